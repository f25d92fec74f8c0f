/**
 * Detaching from a terminal session (docker's --detach-keys, default
 * ctrl-p,ctrl-q): the sequence is parsed as docker's term.ToBytes does, and an
 * EscapeFilter takes it out of the input — bytes that start the sequence are
 * held until it either completes (detach) or breaks off (they are sent).
 */
import { CliError } from "./flags.ts";

export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

const CTRL_SPECIAL: Record<string, number> = { "@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, _: 31 };

/** "ctrl-p,ctrl-q" -> [0x10, 0x11]; a single character stands for itself. */
export function parseDetachKeys(spec: string): Uint8Array {
  const out: number[] = [];
  for (const part of spec.split(",")) {
    const k = part.trim().toLowerCase();
    const m = /^ctrl-(.)$/.exec(k);
    if (m) {
      const c = m[1]!;
      if (c >= "a" && c <= "z") out.push(c.charCodeAt(0) - 96);
      else if (c in CTRL_SPECIAL) out.push(CTRL_SPECIAL[c]!);
      else throw new CliError(`--detach-keys: invalid key "${part}": want ctrl-[a-z@[\\]^_] or a single character`, 125);
    } else if (part.length === 1) out.push(part.charCodeAt(0));
    else throw new CliError(`--detach-keys: invalid key "${part}": want ctrl-[a-z@[\\]^_] or a single character`, 125);
  }
  if (!out.length) throw new CliError("--detach-keys: empty sequence", 125);
  return Uint8Array.from(out);
}

export class EscapeFilter {
  private held = 0;
  constructor(private readonly keys: Uint8Array) {}

  /** The bytes to send for this chunk, and whether the sequence completed (the rest of the chunk is dropped). */
  push(chunk: Uint8Array): { send: Uint8Array; detached: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) {
          this.held = 0;
          return { send: Uint8Array.from(out), detached: true };
        }
        continue;
      }
      // the sequence broke off: what was held goes out, and this byte may start it anew
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]!);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
    }
    return { send: Uint8Array.from(out), detached: false };
  }
}
