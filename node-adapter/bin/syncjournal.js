#!/usr/bin/env node
// The bundled CLI (rolldown.config.mjs, built by `npm run build`).
import { main } from '../dist/bundle/main.js';

process.exitCode = await main(process.argv);
