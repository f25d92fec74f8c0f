export const VERSION = "0.1.0";
/** The runtime-spec version berth implements. */
export const OCI_VERSION = "1.2.0";
