export { MAX_REGISTRATION_ATTRS_BYTES, parseRegistration, registerRegistryRoutes } from './routes.js';
export { SessionRegistry } from './session-registry.js';
