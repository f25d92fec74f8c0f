/**
 * Validation of the manifests a registry returns: OCI index and
 * docker manifest list, OCI image manifest and docker schema2 manifest. Docker
 * schema1 is refused with a clear error. Every descriptor is checked (sha256
 * digest, safe integer size) before anything is fetched through it.
 */
import { invalidArgument, failedPrecondition } from "../../errors.ts";
import type { Descriptor } from "../images/blobs.ts";
import { isIndexType, isManifestType, layerCompression, MediaType, type Index, type Manifest } from "../images/spec.ts";

/** Docker image manifest schema 1: refused. */
const SCHEMA1_TYPES = new Set(["application/vnd.docker.distribution.manifest.v1+json", "application/vnd.docker.distribution.manifest.v1+prettyjws"]);

/** Accept header for manifest requests: the four types berth can use. */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest].join(", ");

/** Manifests larger than this are refused (distribution's own limit is 4 MiB). */
export const MANIFEST_MAX_BYTES = 4 << 20;

export type ParsedManifest =
  | { kind: "index"; mediaType: string; index: Index }
  | { kind: "manifest"; mediaType: string; manifest: Manifest };

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function validateDescriptor(d: unknown, where: string): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o !== "object") throw invalidArgument(`${where}: not a descriptor`);
  if (typeof o.mediaType !== "string" || o.mediaType === "") throw invalidArgument(`${where}: mediaType missing`);
  if (typeof o.digest !== "string" || !DIGEST.test(o.digest)) throw invalidArgument(`${where}: digest "${String(o.digest)}" is not sha256:<64 hex>`);
  if (typeof o.size !== "number" || !Number.isSafeInteger(o.size) || o.size < 0) throw invalidArgument(`${where}: size "${String(o.size)}" is not a non-negative integer`);
  return o as Descriptor;
}

/**
 * Parse manifest bytes. The body's mediaType wins over the Content-Type header
 * (they must agree when both are given).
 */
export function parseManifest(bytes: Uint8Array, contentType?: string | null): ParsedManifest {
  let doc: any;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw invalidArgument(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw invalidArgument("manifest is not a JSON object");
  const header = contentType?.split(";")[0]?.trim() || undefined;
  if (doc.schemaVersion === 1 || (header !== undefined && SCHEMA1_TYPES.has(header))) {
    throw failedPrecondition(
      "manifest is docker image manifest schema 1, which is deprecated and not supported: the image must be pushed again with a current client",
    );
  }
  if (doc.schemaVersion !== 2) throw invalidArgument(`manifest schemaVersion ${JSON.stringify(doc.schemaVersion)} is not supported`);
  const body = typeof doc.mediaType === "string" ? doc.mediaType : undefined;
  const generic = new Set(["application/json", "application/octet-stream", "text/plain"]);
  if (body && header && body !== header && !generic.has(header)) {
    throw invalidArgument(`manifest mediaType "${body}" does not match the Content-Type "${header}"`);
  }
  const mediaType = body ?? (header && !generic.has(header) ? header : Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest);

  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalidArgument("index: manifests missing");
    doc.manifests.forEach((m: unknown, i: number) => validateDescriptor(m, `index: manifests[${i}]`));
    return { kind: "index", mediaType, index: doc as Index };
  }
  if (isManifestType(mediaType)) {
    validateDescriptor(doc.config, "manifest: config");
    if (!Array.isArray(doc.layers)) throw invalidArgument("manifest: layers missing");
    doc.layers.forEach((l: unknown, i: number) => validateDescriptor(l, `manifest: layers[${i}]`));
    if (doc.subject !== undefined) validateDescriptor(doc.subject, "manifest: subject");
    return { kind: "manifest", mediaType, manifest: doc as Manifest };
  }
  throw invalidArgument(`manifest media type "${mediaType}" is not supported`);
}

/** An image config as far as the registry client looks at it. */
export interface ImageConfigLite {
  architecture?: string;
  os?: string;
  variant?: string;
  rootfs?: { type?: string; diff_ids?: string[] };
}

/** Check a pulled image manifest against its config: runnable layers and one diff_id per layer. */
export function checkImage(manifest: Manifest, config: ImageConfigLite) {
  for (const [i, l] of manifest.layers.entries()) {
    if (layerCompression(l.mediaType) === undefined) throw invalidArgument(`manifest: layers[${i}]: media type "${l.mediaType}" is not a layer type`);
  }
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== "string" || !DIGEST.test(d))) {
    throw invalidArgument("image config: rootfs.diff_ids must be a list of sha256 digests");
  }
  if (diffIds.length !== manifest.layers.length) {
    throw invalidArgument(`image config has ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
  }
}
