/**
 * Where blobs are known to exist on registries (learned from pulls and pushes),
 * so a push can ask the registry to mount a blob from another repository
 * instead of uploading it. In memory; the daemon may keep one per process.
 */
export class BlobSources {
  private byDigest = new Map<string, Set<string>>();

  add(digest: string, domain: string, path: string) {
    let s = this.byDigest.get(digest);
    if (!s) this.byDigest.set(digest, (s = new Set()));
    s.add(`${domain}/${path}`);
  }

  /** Repositories on `domain` other than `exclude` known to hold `digest`, most recent first. */
  candidates(digest: string, domain: string, exclude: string): string[] {
    const s = this.byDigest.get(digest);
    if (!s) return [];
    return [...s]
      .reverse()
      .filter((r) => r.startsWith(domain + "/"))
      .map((r) => r.slice(domain.length + 1))
      .filter((p) => p !== exclude);
  }
}
