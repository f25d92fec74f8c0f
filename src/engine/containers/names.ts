/**
 * Container names: docker's rule for names users give, and a generated
 * "adjective_name" for containers created without one.
 */
import { randomInt } from "node:crypto";
import { invalidArgument } from "../../errors.ts";
import { NAME_RE } from "./store.ts";

const ADJECTIVES = [
  "agile", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "fond", "gentle", "happy", "keen", "kind", "lucid",
  "merry", "modest", "nimble", "noble", "patient", "proud", "quick", "quiet", "sharp", "steady", "swift", "tender", "upbeat", "vivid", "witty",
];
const NAMES = [
  "babbage", "bell", "curie", "darwin", "dijkstra", "einstein", "euler", "faraday", "fermi", "gauss", "hopper", "hypatia", "kepler", "knuth",
  "lamport", "liskov", "lovelace", "maxwell", "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak",
];

/** A name the user gave, without its leading "/"; InvalidArgument in docker's words when it is not one. */
export function checkName(name: string): string {
  if (!NAME_RE.test(name)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.replace(/^\//, "");
}

/** A generated name not taken yet (`taken` says whether one is). */
export function generateName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const base = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NAMES[randomInt(NAMES.length)]}`;
    const name = i < 10 ? base : `${base}${randomInt(10_000)}`;
    if (!taken(name)) return name;
  }
}
