// `npm run bench` entry point: plain JavaScript so `node --expose-gc bench/run.js` works as is; it
// registers tsx and runs the type-checked TypeScript benchmark (bench/main.ts) against src/.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
