import { describe, expect, test } from "bun:test";
import { encodeMessage, errorMessage, humanSize, progressMessage, progressText } from "../../../src/api/docker/jsonmessage.ts";

describe("docker's JSON messages", () => {
  test("sizes as go-units prints them", () => {
    expect(humanSize(0)).toBe("0B");
    expect(humanSize(512)).toBe("512B");
    expect(humanSize(1234)).toBe("1.234kB");
    expect(humanSize(3_400_000)).toBe("3.4MB");
    expect(humanSize(1_980_000, 3)).toBe("1.98MB");
    expect(humanSize(2_000_000_000)).toBe("2GB");
  });

  test("the progress bar", () => {
    expect(progressText(0, 0)).toBe("");
    expect(progressText(50, 100)).toBe(`[${"=".repeat(25)}>${" ".repeat(25)}]      50B/100B`);
    expect(progressText(100, 100)).toBe(`[${"=".repeat(50)}>] ` + "    100B/100B");
    expect(progressText(1_500_000, 3_000_000, 80)).toBe("   1.5MB/3MB");
    expect(progressText(1000, 0)).toBe("     1kB");
  });

  test("registry events become dockerd's messages", () => {
    expect(progressMessage({ id: "1", status: "Pulling from library/busybox" })).toEqual({ id: "1", status: "Pulling from library/busybox" });
    expect(progressMessage({ id: "abc", status: "Pulling fs layer" })).toEqual({ id: "abc", status: "Pulling fs layer", progressDetail: {} });
    const m = progressMessage({ id: "abc", status: "Downloading", progressDetail: { current: 10, total: 20 } });
    expect(m.progressDetail).toEqual({ current: 10, total: 20 });
    expect(m.progress).toContain("10B/20B");
    expect(progressMessage({ status: "Digest: sha256:x" })).toEqual({ status: "Digest: sha256:x" });
    expect(encodeMessage(errorMessage("boom"))).toBe('{"errorDetail":{"message":"boom"},"error":"boom"}\r\n');
  });
});
