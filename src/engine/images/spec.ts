/**
 * OCI image-spec v1.1 and Docker image manifest v2 schema 2 types, as far as the
 * engine reads and writes them: manifests, indexes / manifest lists, the image
 * config, and the media types of each. Docker's media types are the OCI ones
 * under other names; both are accepted everywhere and written as found.
 */
import type { Descriptor } from "./blobs.ts";

export const MediaType = {
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayerNondistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciLayerNondistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  OciLayerNondistributableZstd: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerLayerZstd: "application/vnd.docker.image.rootfs.diff.tar.zstd",
  DockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

export type Compression = "none" | "gzip" | "zstd";

const LAYER_COMPRESSION: Record<string, Compression> = {
  [MediaType.OciLayer]: "none",
  [MediaType.OciLayerGzip]: "gzip",
  [MediaType.OciLayerZstd]: "zstd",
  [MediaType.OciLayerNondistributable]: "none",
  [MediaType.OciLayerNondistributableGzip]: "gzip",
  [MediaType.OciLayerNondistributableZstd]: "zstd",
  [MediaType.DockerLayer]: "none",
  [MediaType.DockerLayerGzip]: "gzip",
  [MediaType.DockerLayerZstd]: "zstd",
  [MediaType.DockerForeignLayerGzip]: "gzip",
};

/** The compression a layer media type declares, or undefined for a type that is not a layer. */
export function layerCompression(mediaType: string): Compression | undefined {
  return LAYER_COMPRESSION[mediaType];
}

export function isManifestType(mt: string | undefined): boolean {
  return mt === MediaType.OciManifest || mt === MediaType.DockerManifest;
}

export function isIndexType(mt: string | undefined): boolean {
  return mt === MediaType.OciIndex || mt === MediaType.DockerManifestList;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

/** An image manifest (OCI or Docker schema 2: same shape). */
export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image index (OCI) or manifest list (Docker). */
export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The container defaults in an image config (`config` in OCI; docker adds a few fields). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
  [k: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The image config (application/vnd.oci.image.config.v1+json). Unknown fields are kept. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  config?: ContainerConfig;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: HistoryEntry[];
  /** docker writes these; kept as found */
  container?: string;
  docker_version?: string;
  comment?: string;
  [k: string]: unknown;
}

/** Index annotation naming the reference of a manifest in an OCI layout. */
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
/** containerd/docker: the full image name of a manifest in an OCI layout. */
export const ANNOTATION_IMAGE_NAME = "io.containerd.image.name";
