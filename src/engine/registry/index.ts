/** The registry client's public surface (OCI distribution spec). */
export { familiarReference, isLoopbackDomain } from "./reference.ts";
export { parsePlatform, formatPlatform, hostPlatform, normalizePlatform, selectManifest, type Platform } from "./platform.ts";
export { credentialsFromRegistryAuth, parseChallenges, type Credentials } from "./auth.ts";
export { RegistryClient, type RegistryOptions } from "./client.ts";
export { parseManifest, type ParsedManifest } from "./manifest.ts";
export { pull, fetchManifest, type PullOptions, type PullResult, type ImageRegistrar } from "./pull.ts";
export { push, type PushOptions, type PushResult, type ManifestSource } from "./push.ts";
export { BlobSources } from "./sources.ts";
export type { ProgressEvent, ProgressFn } from "./progress.ts";
export { login, type LoginResult } from "./login.ts";
