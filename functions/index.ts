import { app } from '@azure/functions';
import { registerWithHost } from '../shared/runtime/declarations.js';
import { declarations } from './declarations.js';

// Streamed responses (the audit log download) reach the client chunk by chunk; needs host 4.28+.
app.setup({ enableHttpStream: true });
registerWithHost(app, declarations);
