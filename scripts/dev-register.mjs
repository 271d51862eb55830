/**
 * Runs the workspace from its TypeScript sources: registers tsx and the "@wirespan/source"
 * export condition. Used by the workspace launchers (packages/mesh/bin/*); a development tool
 * only — published packages run compiled JavaScript from dist/ with plain node.
 */
import { register } from "node:module";
import { register as registerTsx } from "tsx/esm/api";

register("./source-condition-hook.mjs", import.meta.url);
registerTsx();
