/**
 * Terminals in a plan. With process.terminal, berth-init gets a console socket
 * before it enters the container (a host path is only reachable from there),
 * then allocates the pty inside the container's devpts and sends the master on
 * that socket (runc's console-socket protocol).
 */
import type { Process } from "../../oci/runtime-spec.ts";
import { invalidArgument } from "../../errors.ts";
import { instr, type Instruction } from "./record.ts";

/** Where the pty master goes: a unix socket path (--console-socket) or an fd berth-init inherits. */
export type ConsoleSocket = { path: string } | { fd: number };

/** The multiplexer inside the container (a symlink to pts/ptmx of its devpts). */
export const PTMX = "/dev/ptmx";

export function consoleInstr(socket: ConsoleSocket | undefined): Instruction {
  if (!socket) throw invalidArgument("process.terminal: a terminal needs a console socket");
  if (!("path" in socket)) return instr("CONSOLE", "", socket.fd);
  if (!socket.path.startsWith("/")) throw invalidArgument(`console socket "${socket.path}": not an absolute path`);
  // sockaddr_un holds 107 bytes and a NUL
  if (Buffer.byteLength(socket.path) > 107) throw invalidArgument(`console socket "${socket.path}": path longer than 107 bytes`);
  return instr("CONSOLE", socket.path, 0);
}

/** Allocate the pty; console is where the slave is bound in the container ("" for exec: none). */
export function ptyInstr(proc: Process, console: string): Instruction {
  const size = proc.consoleSize;
  return instr("PTY", PTMX, size?.height ?? 0, size?.width ?? 0, console, proc.user.uid);
}
