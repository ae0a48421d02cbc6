// Encodes the pass-through PUBLISH properties (those a will or a broker message carries) as
// wire bytes, so they travel and get delivered like the properties of any inbound PUBLISH.
export interface PublishProps {
  payloadFormatIndicator?: boolean | number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

export function encodePublishProps(p: PublishProps | undefined): Buffer | null {
  if (p === undefined) return null;
  const parts: Buffer[] = [];
  const str = (id: number, s: string): void => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.allocUnsafe(3);
    h[0] = id; h.writeUInt16BE(b.length, 1);
    parts.push(h, b);
  };
  if (p.payloadFormatIndicator !== undefined) parts.push(Buffer.from([0x01, p.payloadFormatIndicator ? 1 : 0]));
  if (p.contentType !== undefined) str(0x03, p.contentType);
  if (p.responseTopic !== undefined) str(0x08, p.responseTopic);
  if (p.correlationData !== undefined) {
    const h = Buffer.allocUnsafe(3);
    h[0] = 0x09; h.writeUInt16BE(p.correlationData.length, 1);
    parts.push(h, p.correlationData);
  }
  if (p.userProperties !== undefined) {
    for (const [k, v] of Object.entries(p.userProperties)) {
      for (const one of Array.isArray(v) ? v : [v]) {
        const kb = Buffer.from(k, 'utf8');
        const vb = Buffer.from(String(one), 'utf8');
        const h = Buffer.allocUnsafe(3);
        h[0] = 0x26; h.writeUInt16BE(kb.length, 1);
        const h2 = Buffer.allocUnsafe(2);
        h2.writeUInt16BE(vb.length, 0);
        parts.push(h, kb, h2, vb);
      }
    }
  }
  return parts.length === 0 ? null : Buffer.concat(parts);
}
