#!/usr/bin/env bash
# build-bundle.sh — bundle berth-runtime into one minified file with Bun's
# bytecode cache (build/runtime/), which bin/berth-runtime runs when it is not
# older than any source file. Starting from the bundle costs about half the CPU
# of transpiling the TypeScript sources on every invocation.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf build/runtime.tmp
node_modules/.bin/bun build src/cli/runtime.ts --target=bun --bytecode --minify --outdir=build/runtime.tmp >/dev/null
rm -rf build/runtime
mv build/runtime.tmp build/runtime
