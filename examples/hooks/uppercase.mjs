// A hook module (docs/hooks.md): every shard loads it and calls its default export with the
// options from the configuration. This one upper-cases payloads under options.prefix and
// refuses publishes to secret/ with v5 reason 0x87.
import { HookBase } from 'shoal';

export default class Uppercase extends HookBase {
  onPublish(client, packet) {
    if (packet.topic.startsWith('secret/')) return 0x87;
    if (!packet.topic.startsWith(this.options.prefix)) return packet;
    return { ...packet, payload: Buffer.from(packet.payload.toString().toUpperCase()) };
  }
}
