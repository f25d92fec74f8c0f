/**
 * A temporary directory that mimics cgroup hierarchies (v1, v2 or hybrid) and
 * the sysfs facts the cgroup layer reads. Plain files do not appear by
 * themselves, so after create() a test calls populate() to add the interface
 * files the kernel would have. Writes append (the backends open O_APPEND), so
 * written() returns every value written to a file since populate(), in order.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CgroupHierarchy, CgroupMode } from "../../../src/runtime/cgroups/hierarchy.ts";

type Files = Record<string, string>;

const UNLIMITED = "9223372036854771712";

const V1_FILES: Record<string, Files> = {
  cpu: {
    "cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
    "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0",
    "cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 5000", "cpuacct.usage": "123456789",
    "cpuacct.stat": "user 5\nsystem 3",
  },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  memory: {
    "memory.limit_in_bytes": UNLIMITED, "memory.soft_limit_in_bytes": UNLIMITED, "memory.memsw.limit_in_bytes": UNLIMITED,
    "memory.kmem.limit_in_bytes": UNLIMITED, "memory.kmem.tcp.limit_in_bytes": UNLIMITED, "memory.swappiness": "60",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2", "memory.use_hierarchy": "1",
    "memory.usage_in_bytes": "4096", "memory.max_usage_in_bytes": "8192", "memory.failcnt": "1",
    "memory.memsw.usage_in_bytes": "4096", "memory.stat": "cache 0\nrss 4096",
  },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm" },
  freezer: { "freezer.state": "" },
  blkio: {
    "blkio.weight": "", "blkio.leaf_weight": "", "blkio.weight_device": "", "blkio.leaf_weight_device": "",
    "blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "", "blkio.throttle.read_iops_device": "",
    "blkio.throttle.write_iops_device": "",
    "blkio.throttle.io_service_bytes_recursive": "8:0 Read 100\n8:0 Write 200\n8:16 Read 1\nTotal 301",
  },
  pids: { "pids.max": "max", "pids.current": "1" },
  hugetlb: {
    "hugetlb.2MB.limit_in_bytes": UNLIMITED, "hugetlb.2MB.usage_in_bytes": "0", "hugetlb.2MB.max_usage_in_bytes": "0",
    "hugetlb.2MB.failcnt": "0", "hugetlb.1GB.limit_in_bytes": UNLIMITED,
  },
  net_cls: { "net_cls.classid": "0", "net_prio.ifpriomap": "" },
  "name=systemd": {},
};

const V2_FILES: Files = {
  "cgroup.freeze": "0", "cgroup.type": "domain",
  "memory.max": "max", "memory.low": "0", "memory.high": "max", "memory.swap.max": "max", "memory.current": "4096",
  "memory.peak": "8192", "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1", "memory.stat": "anon 4096\nfile 0",
  "memory.swap.current": "0",
  "cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
  "cpu.stat": "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0",
  "cpuset.cpus": "", "cpuset.mems": "", "pids.max": "max", "pids.current": "1",
  "io.max": "", "io.weight": "default 100", "io.stat": "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0",
  "hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "hugetlb.2MB.current": "0", "hugetlb.2MB.events": "max 0",
  "hugetlb.1GB.max": "max", "rdma.max": "",
};

export interface FakeOptions {
  /** v1: mount cpu+cpuacct and net_cls+net_prio together (default true) */
  combined?: boolean;
  /** files to leave out when populating (e.g. kernel without kmem) */
  without?: string[];
  /** v2 controllers (default all) */
  v2Controllers?: string[];
}

export class FakeCgroupFs {
  readonly root: string;
  readonly h: CgroupHierarchy;
  /** number of default lines per populated file */
  private readonly defaults = new Map<string, number>();

  constructor(readonly mode: CgroupMode, private readonly opts: FakeOptions = {}) {
    this.root = mkdtempSync(join(tmpdir(), `berth-cg-${mode}-`));
    const sysfs = join(this.root, "sys");
    const cg = join(this.root, "cgroup");
    this.file(sysfs, "devices/system/cpu/online", "0-3");
    this.file(sysfs, "devices/system/node/online", "0");
    for (const d of ["kernel/mm/hugepages/hugepages-2048kB", "kernel/mm/hugepages/hugepages-1048576kB", "dev/block/8:0", "dev/block/8:16"]) {
      mkdirSync(join(sysfs, d), { recursive: true });
    }
    const v1: CgroupHierarchy["v1"] = [];
    const self: Record<string, string> = {};
    if (mode !== "v2") {
      const combined = opts.combined ?? true;
      const mounts: [string, string[]][] = [
        [combined ? "cpu,cpuacct" : "cpu", combined ? ["cpu", "cpuacct"] : ["cpu"]],
        ["cpuset", ["cpuset"]], ["memory", ["memory"]], ["devices", ["devices"]], ["freezer", ["freezer"]],
        ["blkio", ["blkio"]], ["pids", ["pids"]],
        [combined ? "net_cls,net_prio" : "net_cls", combined ? ["net_cls", "net_prio"] : ["net_cls"]],
        ["systemd", ["name=systemd"]],
      ];
      if (!combined) mounts.push(["cpuacct", ["cpuacct"]]);
      if (mode === "v1") mounts.push(["hugetlb", ["hugetlb"]]);
      for (const [name, controllers] of mounts) {
        const mp = join(cg, name);
        mkdirSync(mp, { recursive: true });
        v1.push({ mountpoint: mp, root: "/", controllers });
        // the runtime lives in a supervisor's cgroup in memory/, at the root elsewhere
        for (const c of controllers) self[c] = c === "memory" ? "/supervisor/job" : "/";
        this.populateDir(mp, controllers, true);
      }
      mkdirSync(join(cg, "memory", "supervisor", "job"), { recursive: true });
      this.populateDir(join(cg, "memory", "supervisor"), ["memory"], false);
      this.populateDir(join(cg, "memory", "supervisor", "job"), ["memory"], false);
    }
    let v2: CgroupHierarchy["v2"];
    if (mode !== "v1") {
      const mp = mode === "v2" ? join(cg, "v2") : join(cg, "unified");
      mkdirSync(mp, { recursive: true });
      const controllers = opts.v2Controllers ?? (mode === "v2" ? ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"] : ["hugetlb"]);
      v2 = { mountpoint: mp, root: "/", controllers };
      this.file(mp, "cgroup.controllers", controllers.join(" "));
      this.file(mp, "cgroup.subtree_control", "");
      this.file(mp, "cgroup.procs", "");
      this.defaults.set(join(mp, "cgroup.subtree_control"), 0);
      self[""] = "/";
    }
    this.h = { mode, v1, v2, self, sysfs };
  }

  private file(base: string, rel: string, content: string): void {
    const p = join(base, rel);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, content ? content + "\n" : "");
  }

  private populateDir(dir: string, controllers: string[], isRoot: boolean): void {
    const put = (f: string, content: string) => {
      if (this.opts.without?.includes(f)) return;
      const p = join(dir, f);
      if (existsSync(p)) return;
      writeFileSync(p, content ? content + "\n" : "");
      this.defaults.set(p, content ? content.split("\n").length : 0);
    };
    put("cgroup.procs", "");
    for (const c of controllers) {
      for (const [f, v] of Object.entries(V1_FILES[c] ?? {})) {
        if (isRoot && f === "freezer.state") continue; // the root freezer has no state file
        put(f, isRoot && f === "cpuset.cpus" ? "0-3" : isRoot && f === "cpuset.mems" ? "0" : v);
      }
    }
  }

  /** Add the kernel's interface files to every directory below the mounts that lacks them. */
  populate(): void {
    if (this.h.v2) this.walk(this.h.v2.mountpoint, (d) => {
      const put = (f: string, content: string) => {
        if (this.opts.without?.includes(f)) return;
        const p = join(d, f);
        if (existsSync(p)) return;
        writeFileSync(p, content ? content + "\n" : "");
        this.defaults.set(p, content ? content.split("\n").length : 0);
      };
      put("cgroup.procs", "");
      put("cgroup.controllers", this.h.v2!.controllers.join(" "));
      put("cgroup.subtree_control", "");
      for (const [f, v] of Object.entries(V2_FILES)) {
        const ctl = f.slice(0, f.indexOf("."));
        if (ctl === "cgroup" || this.h.v2!.controllers.includes(ctl) || (ctl === "cpu" && f === "cpu.stat")) put(f, v);
      }
    });
    for (const m of this.h.v1) this.walk(m.mountpoint, (d) => this.populateDir(d, m.controllers, false));
  }

  private walk(mp: string, fn: (dir: string) => void): void {
    const visit = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) {
          fn(join(d, e.name));
          visit(join(d, e.name));
        }
      }
    };
    visit(mp);
  }

  /** Values written to dir/file since it was populated, one per write. */
  written(dir: string, file: string): string[] {
    const p = join(dir, file);
    if (!existsSync(p)) return [];
    const lines = readFileSync(p, "utf8").split("\n").filter((l) => l !== "");
    return lines.slice(this.defaults.get(p) ?? 0);
  }

  /** Put a value in a file as the kernel would report it (overwrites). */
  setValue(dir: string, file: string, value: string): void {
    const p = join(dir, file);
    writeFileSync(p, value + "\n");
    this.defaults.set(p, value.split("\n").length);
  }

  /** The kernel removes interface files with the directory; do that before destroy(). */
  stripFiles(): void {
    const mps = [...this.h.v1.map((m) => m.mountpoint), ...(this.h.v2 ? [this.h.v2.mountpoint] : [])];
    for (const mp of mps) {
      this.walk(mp, (d) => {
        for (const e of readdirSync(d)) {
          const p = join(d, e);
          if (statSync(p).isFile()) unlinkSync(p);
        }
      });
    }
  }

  mountOf(controller: string): string {
    if (controller === "") return this.h.v2!.mountpoint;
    const m = this.h.v1.find((m) => m.controllers.includes(controller));
    if (!m) throw new Error(`no fake mount for ${controller}`);
    return m.mountpoint;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
