/**
 * Every instrumentation short name the agent knows, as OTEL_NODE_ENABLED_INSTRUMENTATIONS
 * and OTEL_NODE_DISABLED_INSTRUMENTATIONS accept them: taken from the one registry
 * (src/instrumentations/registry.ts), whose definitions import only types, so the
 * configuration loads no instrumentation code.
 */
export { INSTRUMENTATION_NAMES } from '../instrumentations/registry';
