#!/usr/bin/env bash
# Build the web app's front-end bundle: web/ (npm, locked) -> src/legato/web/static/dist/.
# app.js carries htmx, bpmn-js, dmn-js and form-js; app.css their styles, fonts inlined.
set -euo pipefail
cd "$(dirname "$0")/../web"
# Some packages (@carbon/*, through form-js) report their installation to IBM from a
# post-install script: no such report leaves this build.
IBM_TELEMETRY_DISABLED=true npm ci --no-audit --no-fund --loglevel=error
out=../src/legato/web/static/dist
rm -rf "$out"
node_modules/.bin/esbuild src/app.js --bundle --minify --format=iife --target=es2020 \
  --outdir="$out" --entry-names=app --log-level=warning \
  --loader:.woff=dataurl --loader:.woff2=dataurl --loader:.ttf=dataurl \
  --loader:.eot=dataurl --loader:.svg=dataurl --loader:.png=dataurl
ls "$out"
