import { app } from '@azure/functions';
import { registerWithHost } from '../shared/runtime/declarations.js';
import { declarations } from './declarations.js';

app.setup({ enableHttpStream: false });
registerWithHost(app, declarations);
