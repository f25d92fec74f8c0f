/** A container record for tests that build specs or select containers without a daemon. */
import type { ContainerRecord } from "../../src/engine/containers/model.ts";
import { newRecord } from "../../src/engine/containers/status.ts";

export function testRecord(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return newRecord({
    Id: "0123456789abcdef".repeat(4),
    Name: "t",
    tenant: "default",
    Created: new Date(0).toISOString(),
    Image: "sha256:" + "0".repeat(64),
    ImageName: "busybox",
    Path: "/bin/sh",
    Args: ["-c", "true"],
    Config: {},
    HostConfig: {},
    ...over,
  });
}
