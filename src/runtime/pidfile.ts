/** --pid-file: the pid written atomically (temp file + rename), as runc does. */
import { renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

export function writePidFile(path: string, pid: number) {
  const file = resolve(path);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, String(pid));
  renameSync(tmp, file);
}
