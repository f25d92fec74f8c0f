import { describe, expect, test } from "bun:test";
import { asBerthError, clientMessage, codeForHttpStatus, errorResponse, httpStatus, HTTP_STATUS } from "../../../src/api/errors.ts";
import { BerthError, type ErrorCode } from "../../../src/errors.ts";

describe("BerthError -> HTTP", () => {
  test("each code has its status", () => {
    const want: Record<ErrorCode, number> = {
      NotFound: 404,
      AlreadyExists: 409,
      InvalidArgument: 400,
      FailedPrecondition: 409,
      PermissionDenied: 403,
      Unavailable: 503,
      Internal: 500,
    };
    expect(HTTP_STATUS).toEqual(want);
    for (const [code, status] of Object.entries(want)) expect(httpStatus(code as ErrorCode)).toBe(status);
  });

  test("a client maps statuses back to codes", () => {
    for (const code of ["NotFound", "InvalidArgument", "PermissionDenied", "Unavailable", "Internal", "FailedPrecondition"] as ErrorCode[])
      expect(codeForHttpStatus(httpStatus(code))).toBe(code);
    expect(codeForHttpStatus(401)).toBe("PermissionDenied");
    expect(codeForHttpStatus(501)).toBe("Internal");
  });

  test("the body is {message} with Content-Type exactly application/json (the docker client needs that string)", async () => {
    const res = errorResponse(new BerthError("NotFound", "no such image: busybox:latest"), new Headers({ "API-Version": "1.43" }));
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("api-version")).toBe("1.43");
    expect(await res.json()).toEqual({ message: "No such image: busybox:latest" });
  });

  test("anything else thrown is Internal; docker's capitalized 'No such' only where clients match on it", () => {
    const e = asBerthError(new Error("boom"));
    expect(e.code).toBe("Internal");
    expect(httpStatus(e.code)).toBe(500);
    expect(clientMessage(new BerthError("NotFound", "no such container: web"))).toBe("No such container: web");
    expect(clientMessage(new BerthError("NotFound", "blob sha256:x not found"))).toBe("blob sha256:x not found");
    expect(clientMessage(new BerthError("InvalidArgument", "pull x: no such image: y"))).toBe("pull x: no such image: y");
  });
});
