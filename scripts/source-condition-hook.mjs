/**
 * Module resolve hook: adds the "@wirespan/source" export condition, so `@wirespan/*` imports
 * resolve to the TypeScript sources instead of dist/ (what `node --conditions=@wirespan/source`
 * does, for launchers that cannot pass Node flags). Registered by dev-register.mjs.
 */
const SOURCE = "@wirespan/source";

export async function resolve(specifier, context, nextResolve) {
  if (context.conditions.includes(SOURCE)) return nextResolve(specifier, context);
  return nextResolve(specifier, { ...context, conditions: [SOURCE, ...context.conditions] });
}
