/** Where `chemflow ui` listens unless told otherwise (`--port`, `--host`). */
export const DEFAULT_UI_PORT = 4173;
export const DEFAULT_UI_HOST = '127.0.0.1';
