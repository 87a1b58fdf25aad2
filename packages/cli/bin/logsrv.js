#!/usr/bin/env node
// The `logsrv` program as an installed package's bin (`npm install ./logsrv-cli-*.tgz`, then `npx logsrv`).
import '../dist/main.js';
