/**
 * The engine's image operations as a caller sees them: every call is made for
 * a tenant, touches only what that tenant owns, and publishes its events on
 * the bus. The API and the CLI call this; it calls the ImageStore, the
 * archive code and the registry client, which know nothing of events or of
 * daemon settings.
 */
import { BerthError, invalidArgument, notFound } from "../errors.ts";
import type { EventBus } from "./events.ts";
import type { Logger } from "./logger.ts";
import type { RegistryHosts } from "./registries.ts";
import { importImage, loadArchive, saveArchive, type LoadResult } from "./images/archive.ts";
import { familiarName, familiarString, formatReference, matchesReferencePattern, parseReference } from "./images/reference.ts";
import type { DeleteItem, GcResult, HistoryItem, ImageRecord, ImageStore, ListFilters } from "./images/store.ts";
import { login, pull, push, type BlobSources, type Credentials, type LoginResult, type ProgressFn, type PullResult, type PushResult } from "./registry/index.ts";
import { parsePlatform } from "./registry/index.ts";

export interface PruneFilters {
  /** false: every unused image, not only dangling ones (docker's dangling=false) */
  danglingOnly?: boolean;
  until?: string;
  label?: string[];
  labelNot?: string[];
}

export interface ImportOptions {
  /** repository[:tag] to give the image */
  repo?: string;
  tag?: string;
  changes?: string[];
  message?: string;
  platform?: string;
}

export interface TransferOptions {
  credentials?: Credentials;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface ImageServiceDeps {
  store: ImageStore;
  events: EventBus;
  registries: RegistryHosts;
  sources: BlobSources;
  log?: Logger;
}

/** The name docker puts in "No such image: ...": the familiar reference with its default tag, or the input. */
function familiarOrRaw(name: string): string {
  try {
    const r = parseReference(name);
    return familiarString(formatReference(r));
  } catch {
    return name;
  }
}

/** A store NotFound about the image as a whole, reworded with the name as given. */
function noSuchImage(name: string, e: unknown): unknown {
  if (e instanceof BerthError && e.code === "NotFound" && /^no such image: /.test(e.message)) return notFound(`no such image: ${familiarOrRaw(name)}`);
  return e;
}

export class ImageService {
  readonly store: ImageStore;
  private readonly events: EventBus;
  private readonly registries: RegistryHosts;
  private readonly sources: BlobSources;
  private readonly log?: Logger;

  constructor(deps: ImageServiceDeps) {
    this.store = deps.store;
    this.events = deps.events;
    this.registries = deps.registries;
    this.sources = deps.sources;
    this.log = deps.log;
  }

  private event(tenant: string, action: string, id: string, name: string, labels: Record<string, string> | null | undefined = undefined) {
    this.events.publish({ tenant, type: "image", action, actor: { id, attributes: { ...(labels ?? {}), name } } });
  }

  private labelsOf(tenant: string, id: string): Record<string, string> | undefined {
    return this.store.tryResolve(tenant, id)?.config.config?.Labels ?? undefined;
  }

  private guard<T>(name: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw noSuchImage(name, e);
    }
  }

  // ---------------------------------------------------------------- reads

  /** docker images: with a reference filter, each image shows only its references that match (as dockerd does). */
  list(tenant: string, filters: ListFilters = {}): ImageRecord[] {
    const images = this.store.list(tenant, filters);
    const patterns = filters.reference ?? [];
    if (!patterns.length) return images;
    const keep = (r: string) => patterns.some((p) => matchesReferencePattern(p, r));
    return images.map((i) => ({ ...i, repoTags: i.repoTags.filter(keep), repoDigests: i.repoDigests.filter(keep) }));
  }

  inspect(tenant: string, name: string): ImageRecord {
    return this.guard(name, () => this.store.resolve(tenant, name));
  }

  history(tenant: string, name: string): HistoryItem[] {
    return this.guard(name, () => this.store.history(tenant, name));
  }

  /** Total size of the tenant's layers (docker system df's LayersSize): each unpacked layer counted once. */
  layersSize(tenant: string): number {
    const seen = new Map<string, number>();
    for (const img of this.store.list(tenant, { all: true })) for (const l of img.layers) seen.set(l.diffID, l.unpackedSize);
    let n = 0;
    for (const v of seen.values()) n += v;
    return n;
  }

  // ---------------------------------------------------------------- references

  /** docker tag SOURCE REPO[:TAG]. Returns the canonical new reference. */
  tag(tenant: string, source: string, repo: string, tag?: string): string {
    if (!repo) throw invalidArgument("repo: missing");
    const target = tag ? `${repo}:${tag}` : repo;
    const img = this.inspect(tenant, source);
    const canon = this.store.tag(tenant, img.id, target);
    this.event(tenant, "tag", img.id, familiarString(canon), img.config.config?.Labels);
    return canon;
  }

  /** docker rmi NAME (one name). */
  remove(tenant: string, name: string, opts: { force?: boolean; noprune?: boolean } = {}): DeleteItem[] {
    const img = this.inspect(tenant, name);
    const items = this.guard(name, () => this.store.remove(tenant, name, { force: opts.force }));
    for (const it of items) {
      if ("untagged" in it) this.event(tenant, "untag", img.id, img.id, img.config.config?.Labels);
      else this.event(tenant, "delete", it.deleted, it.deleted, img.config.config?.Labels);
    }
    if (items.some((i) => "deleted" in i)) this.gc();
    return items;
  }

  /** docker image prune. */
  prune(tenant: string, f: PruneFilters = {}): { deleted: DeleteItem[]; spaceReclaimed: number } {
    const res = this.store.prune(tenant, { all: f.danglingOnly === false, until: f.until, label: f.label, labelNot: f.labelNot });
    for (const it of res.deleted) if ("deleted" in it) this.event(tenant, "delete", it.deleted, it.deleted);
    this.logGc(res.gc);
    return { deleted: res.deleted, spaceReclaimed: res.spaceReclaimed };
  }

  private gc() {
    try {
      this.logGc(this.store.gc());
    } catch (e) {
      this.log?.warn("image gc failed", { error: (e as Error).message });
    }
  }

  private logGc(r: GcResult) {
    if (r.blobs.length || r.snapshots.length) this.log?.debug("image gc", { blobs: r.blobs.length, snapshots: r.snapshots.length, bytes: r.bytes });
  }

  // ---------------------------------------------------------------- archives

  /** docker load. */
  async load(tenant: string, body: AsyncIterable<Uint8Array>): Promise<LoadResult> {
    const res = await loadArchive(this.store, tenant, body);
    for (const img of res.images) this.event(tenant, "load", img.id, img.id, img.config.config?.Labels);
    return res;
  }

  /** docker save: resolves every name first (NotFound before any byte is written), then streams the tar. */
  save(tenant: string, names: string[]): AsyncGenerator<Uint8Array> {
    if (!names.length) throw invalidArgument("names: no image named");
    const ids = names.flatMap((n) => this.savedBy(tenant, n));
    for (const id of new Set(ids)) this.event(tenant, "save", id, id, this.labelsOf(tenant, id));
    return saveArchive(this.store, tenant, names);
  }

  /** The images `docker save NAME` writes: a bare repository name means every tag of it. */
  private savedBy(tenant: string, name: string): string[] {
    let r: ReturnType<typeof parseReference> | undefined;
    try {
      r = parseReference(name, { defaultTag: false });
    } catch {}
    if (r && r.tag === undefined && !r.digest) {
      const ids = this.store.list(tenant, { all: true }).filter((i) => i.repoTags.some((t) => parseReference(t).name === r!.name)).map((i) => i.id);
      if (ids.length) return ids;
    }
    return [this.inspect(tenant, name).id];
  }

  /** docker import: a rootfs tar as a one-layer image. */
  async import(tenant: string, body: AsyncIterable<Uint8Array>, o: ImportOptions = {}): Promise<ImageRecord> {
    let ref: string | undefined;
    if (o.repo) {
      const r = parseReference(o.repo, { defaultTag: false });
      if (r.digest) throw invalidArgument(`repo: ${o.repo}: cannot import to a digest reference`);
      if (o.tag && r.tag !== undefined) throw invalidArgument(`tag: repo ${o.repo} already has a tag`);
      ref = o.tag ? `${o.repo}:${o.tag}` : o.repo;
      parseReference(ref);
    } else if (o.tag) throw invalidArgument("tag: given without repo");
    const platform = o.platform ? parsePlatform(o.platform) : undefined;
    const img = await importImage(this.store, tenant, body, {
      ref,
      changes: o.changes,
      comment: o.message !== undefined && o.message !== "" ? o.message : undefined,
      platform,
    });
    this.event(tenant, "import", img.id, img.id, img.config.config?.Labels);
    return img;
  }

  // ---------------------------------------------------------------- registries

  /** docker pull. `ref` is normalized (default tag latest). */
  async pull(tenant: string, ref: string, o: TransferOptions & { platform?: string } = {}): Promise<PullResult> {
    const r = parseReference(ref);
    const res = await pull(r, {
      store: this.store.blobs,
      images: this.store,
      tenant,
      platform: o.platform || undefined,
      registry: this.registries.options(r.domain, o.credentials),
      onProgress: o.onProgress,
      sources: this.sources,
      signal: o.signal,
    });
    const fam = familiarString(formatReference(r));
    this.event(tenant, "pull", fam, familiarName(r.name), res.imageId ? this.labelsOf(tenant, res.imageId) : undefined);
    return res;
  }

  /**
   * docker push NAME[:TAG]; with `allTags` (docker push --all-tags, or the API
   * without a tag) every tag of the repository the tenant has.
   */
  async push(tenant: string, name: string, o: TransferOptions & { tag?: string; allTags?: boolean } = {}): Promise<PushResult[]> {
    const base = parseReference(name, { defaultTag: false });
    if (base.digest) throw invalidArgument(`push ${name}: cannot push a digest reference`);
    let refs: string[];
    if (o.tag) refs = [`${base.name}:${o.tag}`];
    else if (base.tag !== undefined) refs = [formatReference(base)];
    else if (o.allTags) {
      refs = this.store
        .list(tenant, { all: true })
        .flatMap((i) => i.repoTags)
        .filter((t) => parseReference(t).name === base.name)
        .sort();
      if (!refs.length) throw notFound(`no such image: ${familiarName(base.name)}: the repository has no tags`);
    } else refs = [`${base.name}:latest`];
    for (const ref of refs) this.inspect(tenant, ref);
    const out: PushResult[] = [];
    for (const ref of refs) {
      const r = parseReference(ref);
      const res = await push(r, {
        store: this.store.blobs,
        images: this.store,
        tenant,
        registry: this.registries.options(r.domain, o.credentials),
        onProgress: o.onProgress,
        sources: this.sources,
        signal: o.signal,
      });
      // as dockerd: the pushed image gets the repository's digest reference
      const img = this.store.resolve(tenant, ref);
      if (res.digest === img.manifestDigest) this.store.setReference(tenant, `${r.name}@${res.digest}`, img.id);
      this.event(tenant, "push", familiarString(ref), familiarName(r.name), img.config.config?.Labels);
      out.push(res);
    }
    return out;
  }

  /** docker login: check credentials with the registry (they are not stored: the client keeps them). */
  login(serverAddress: string, credentials: Credentials): Promise<LoginResult> {
    const domain = registryDomain(serverAddress);
    return login(domain, this.registries.options(domain, credentials));
  }
}

/** The registry domain of a docker login server address ("https://index.docker.io/v1/", "host:5000", "https://host:5000/v2/"). */
export function registryDomain(serverAddress: string): string {
  let s = serverAddress.trim();
  if (!s) return "docker.io";
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  s = s.replace(/\/.*$/, "");
  if (!s) throw invalidArgument(`serveraddress: "${serverAddress}" names no registry`);
  const lower = s.toLowerCase();
  if (lower === "index.docker.io" || lower === "registry-1.docker.io" || lower === "docker.io") return "docker.io";
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/.test(s)) throw invalidArgument(`serveraddress: "${serverAddress}" is not a registry host[:port]`);
  return s;
}
