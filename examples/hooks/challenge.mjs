// An MQTT 5 enhanced-authentication method as a hook module (docs/hooks.md, "Enhanced
// authentication"): a toy challenge/response, "TOY-CHALLENGE", where the password never crosses
// the wire. Only Node's own modules, so it runs from a checkout too:
//   shoal --hook ./examples/hooks/challenge.mjs     (options: {secrets: {alice: "s3cret"}})
//
//   CONNECT   Authentication Method TOY-CHALLENGE, Authentication Data = the user name
//   AUTH 0x18 from the broker: a fresh random challenge (32 bytes)
//   AUTH 0x18 from the client: HMAC-SHA256(secret, challenge)
//   CONNACK 0x00 with "welcome <user>", or 0x87 Not authorized
// Re-authentication (AUTH 0x19 with the user name) runs the same two steps, ending in AUTH 0x00.
// An unknown user gets a challenge too and fails at the end, so names are not revealed.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export default function challenge(options) {
  const secrets = new Map(Object.entries(options?.secrets ?? {}));
  const decoy = randomBytes(32);
  return {
    authMethods: ['TOY-CHALLENGE'],
    // `conversation` is the same object for each step of one exchange: its state is ours.
    onAuthPacket(client, method, data, reauth, conversation) {
      if (conversation.step === 0) {
        const user = data?.toString('utf8') ?? '';
        const nonce = randomBytes(32);
        conversation.state = { user, nonce };
        return { continue: nonce };
      }
      const { user, nonce } = conversation.state;
      const secret = secrets.get(user);
      const expected = createHmac('sha256', secret ?? decoy).update(nonce).digest();
      const ok = secret !== undefined && data !== undefined && data.length === expected.length && timingSafeEqual(data, expected);
      if (!ok) return { fail: 0x87, reasonString: 'wrong response' };
      return { success: Buffer.from(`welcome ${user}`) };
    },
  };
}
