/**
 * The MountResolver berthd uses: binds, volumes and tmpfs resolved at create
 * (volumes made as needed, filled from the image: copy-up needs the rootfs
 * mounted for a moment), volumes remounted at start, anonymous ones removed
 * with the container when asked (rm -v).
 */
import type { OverlaySnapshotter } from "../storage/overlay.ts";
import type { VolumeStore } from "../volumes/store.ts";
import { resolveMounts, volumesToRemove } from "./mounts.ts";
import type { MountResolver } from "./service.ts";

export function containerMounts(volumes: VolumeStore, snapshots: OverlaySnapshotter): MountResolver {
  return {
    async resolve(rec) {
      const wanted = rec.HostConfig.Binds?.length || rec.HostConfig.Mounts?.length || rec.HostConfig.Tmpfs || (rec.Config.Volumes && Object.keys(rec.Config.Volumes).length);
      if (!wanted) return [];
      const wasMounted = snapshots.isMounted(rec.Id);
      const rootfs = await snapshots.mount(rec.Id);
      try {
        return resolveMounts({ tenant: rec.tenant, Config: rec.Config, HostConfig: rec.HostConfig, volumes, rootfs });
      } finally {
        if (!wasMounted) await snapshots.unmount(rec.Id);
      }
    },
    prepare(rec) {
      for (const m of rec.Mounts) if (m.Type === "volume" && m.Name) volumes.mountpoint(rec.tenant, m.Name);
    },
    async release(rec, removeVolumes) {
      if (!removeVolumes) return;
      for (const name of volumesToRemove(rec, volumes)) {
        try {
          volumes.remove(rec.tenant, name);
        } catch {
          // in use by another container: it stays, as with docker
        }
      }
    },
  };
}
