#!/usr/bin/env node
// `scaling-detach-emulator`: the emulator is TypeScript, and tsx runs it without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
