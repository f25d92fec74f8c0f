/**
 * The SpecBuilder berthd uses: docker's create-body rules (validate-create),
 * image defaults (merge-config), the OCI spec docker + runc would run
 * (spec.ts), and docker-init from Debian's tini when it is installed.
 */
import { existsSync } from "node:fs";
import { mergeImageConfig } from "./merge-config.ts";
import type { SpecBuilder } from "./service.ts";
import { buildSpec, DEFAULT_INIT_PATH, detectSpecHost, specResources, type SpecHost } from "./spec.ts";
import { validateCreate } from "./validate-create.ts";

let host: SpecHost | undefined;
const specHost = () => (host ??= detectSpecHost());

export const dockerSpecBuilder: SpecBuilder = {
  validate: (body) => validateCreate(body),
  merge: (body, image) => mergeImageConfig(body, image),
  build: (input) => buildSpec(input, specHost()),
  resources: (hc) => specResources(hc, specHost()),
  get initPath() {
    return existsSync(DEFAULT_INIT_PATH) ? DEFAULT_INIT_PATH : undefined;
  },
};
