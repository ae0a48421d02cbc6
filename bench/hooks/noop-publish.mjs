// A hook that implements onPublish and does nothing else: the cost of the hook path itself
// (bench:compare --brokers shoal,shoal-noop-hook; docs/hooks.md, Cost).
export default () => ({ onPublish: (client, packet) => packet });
