/** The OCI `linux.seccomp` types live in src/oci/seccomp.ts; re-exported for the compiler. */
export * from "../../oci/seccomp.ts";
