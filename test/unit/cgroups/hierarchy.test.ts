/** Parsing /proc/self/mountinfo and /proc/self/cgroup into a hierarchy; cgroupsPath parsing. */
import { describe, expect, test } from "bun:test";
import { detectHierarchy, hierarchyFromProc } from "../../../src/runtime/cgroups/hierarchy.ts";
import { parseCgroupsPath, resolveCgroupDir } from "../../../src/runtime/cgroups/path.ts";

// this machine's layout (see shared MACHINE.md): v1 per controller + cgroup2 at /sys/fs/cgroup/unified
const HYBRID_MOUNTINFO = `22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_SELF = `9:name=systemd:/
4:memory:/process_api/5d60
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;
const PROC_CGROUPS = `#subsys_name	hierarchy	num_cgroups	enabled
cpuset	3	1	1
cpu	1	1	1
cpuacct	2	1	1
memory	4	31	1
hugetlb	0	1	1
`;

describe("hierarchy detection", () => {
  test("hybrid: v1 controllers, name=systemd, cgroup2 with its controllers", () => {
    const h = hierarchyFromProc({ mountinfo: HYBRID_MOUNTINFO, procSelfCgroup: HYBRID_SELF, procCgroups: PROC_CGROUPS, readV2Controllers: () => ["hugetlb"] });
    expect(h.mode).toBe("hybrid");
    expect(h.v1.map((m) => m.controllers)).toEqual([["cpu"], ["cpuacct"], ["cpuset"], ["memory"], ["name=systemd"]]);
    expect(h.v2).toEqual({ mountpoint: "/sys/fs/cgroup/unified", root: "/", controllers: ["hugetlb"] });
    expect(h.self["memory"]).toBe("/process_api/5d60");
    expect(h.self[""]).toBe("/");
    expect(h.sysfs).toBe("/sys");
  });

  test("pure v2 and combined v1 mounts", () => {
    const v2 = hierarchyFromProc({
      mountinfo: "30 22 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
      procSelfCgroup: "0::/user.slice/x.scope\n",
      readV2Controllers: () => ["cpu", "memory", "pids"],
    });
    expect(v2.mode).toBe("v2");
    expect(v2.v1).toEqual([]);
    const v1 = hierarchyFromProc({
      mountinfo: "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n32 30 0:29 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,xattr,net_cls,net_prio\n",
      procSelfCgroup: "2:cpu,cpuacct:/a\n1:net_cls,net_prio:/\n",
      readV2Controllers: () => [],
    });
    expect(v1.mode).toBe("v1");
    expect(v1.v1.map((m) => m.controllers)).toEqual([["cpu", "cpuacct"], ["net_cls", "net_prio"]]);
    expect(v1.self["cpuacct"]).toBe("/a");
  });

  test("a bind mount of a sub-tree that does not contain our cgroup is skipped", () => {
    const h = hierarchyFromProc({
      mountinfo: "50 30 0:31 /other /mnt/x rw - cgroup cgroup rw,memory\n51 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
      procSelfCgroup: "4:memory:/mine\n",
      readV2Controllers: () => [],
    });
    expect(h.v1).toEqual([{ mountpoint: "/sys/fs/cgroup/memory", root: "/", controllers: ["memory"] }]);
  });

  test("no cgroup filesystem at all is an error", () => {
    expect(() => hierarchyFromProc({ mountinfo: "", procSelfCgroup: "", readV2Controllers: () => [] })).toThrow(/no cgroup filesystem is mounted/);
  });

  test("detectHierarchy reads this host (read-only)", () => {
    const h = detectHierarchy();
    expect(["v1", "hybrid", "v2"]).toContain(h.mode);
    expect(h.v1.length + (h.v2 ? 1 : 0)).toBeGreaterThan(0);
  });
});

describe("cgroupsPath", () => {
  test("absolute, relative, empty, dots", () => {
    expect(parseCgroupsPath("/a/b/", "id")).toEqual({ absolute: true, path: "a/b" });
    expect(parseCgroupsPath("a//b", "id")).toEqual({ absolute: false, path: "a/b" });
    expect(parseCgroupsPath("", "web")).toEqual({ absolute: false, path: "web" });
    expect(parseCgroupsPath(undefined, "web")).toEqual({ absolute: false, path: "web" });
    expect(parseCgroupsPath("/../../x/../y", "id")).toEqual({ absolute: true, path: "y" });
    expect(parseCgroupsPath("../../y", "id")).toEqual({ absolute: false, path: "y" });
  });

  test("rejects the systemd form, the root and an id that cannot be a path", () => {
    expect(() => parseCgroupsPath("system.slice:docker:abc", "id")).toThrow(/^linux\.cgroupsPath: "system\.slice:docker:abc" is a systemd slice:prefix:name path/);
    expect(() => parseCgroupsPath(":berth:abc", "id")).toThrow(/systemd/);
    expect(() => parseCgroupsPath("/..", "id")).toThrow(/names the root cgroup/);
    expect(() => parseCgroupsPath("", "a/b")).toThrow(/cannot name a cgroup/);
  });

  test("resolution against the mount and the runtime's own cgroup", () => {
    const rel = parseCgroupsPath("ctr", "x");
    expect(resolveCgroupDir(rel, "/sys/fs/cgroup/memory", "/", "/process_api/5d60")).toEqual({
      dir: "/sys/fs/cgroup/memory/process_api/5d60/ctr",
      cgroupPath: "/process_api/5d60/ctr",
    });
    // a mount whose root is a sub-tree (e.g. inside another container)
    expect(resolveCgroupDir(rel, "/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc/sub")).toEqual({
      dir: "/sys/fs/cgroup/memory/sub/ctr",
      cgroupPath: "/docker/abc/sub/ctr",
    });
    const abs = parseCgroupsPath("/berth/ctr", "x");
    expect(resolveCgroupDir(abs, "/sys/fs/cgroup/unified", "/", "/whatever")).toEqual({
      dir: "/sys/fs/cgroup/unified/berth/ctr",
      cgroupPath: "/berth/ctr",
    });
  });
});
