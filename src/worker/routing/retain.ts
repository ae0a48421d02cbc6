import type { Message } from '../session/message.ts';

function retainedBytes(m: Message | null): number { return m === null ? 0 : m.payload.length + Buffer.byteLength(m.topic); }

class Node {
  children: Map<string, Node> | null = null;
  msg: Message | null = null;
  count = 0; // retained messages in this subtree (prunes empty branches, skips dead ones fast)
}

/**
 * The shard's replica of all retained messages, as a tree of topic levels so a wildcard filter
 * is matched by walking only the branches it can reach (not by testing every retained topic).
 */
export class RetainedIndex {
  private readonly root = new Node();
  size = 0;
  /** Clients' retained messages (not the broker's own $SYS values): for --max-retained-messages / -bytes. */
  clientCount = 0;
  /** payload + topic bytes of those */
  clientBytes = 0;

  set(topic: string, msg: Message | null): void {
    const levels = topic.split('/');
    const path: Node[] = [this.root];
    let node = this.root;
    for (const level of levels) {
      let next = node.children?.get(level);
      if (next === undefined) {
        if (msg === null) return; // clearing something that isn't there
        next = new Node();
        (node.children ??= new Map()).set(level, next);
      }
      node = next;
      path.push(node);
    }
    const delta = (msg !== null ? 1 : 0) - (node.msg !== null ? 1 : 0);
    if (topic.charCodeAt(0) !== 36 /* $ */) {
      this.clientBytes += retainedBytes(msg) - retainedBytes(node.msg);
      this.clientCount += delta;
    }
    node.msg = msg;
    if (delta === 0) return;
    this.size += delta;
    for (const n of path) n.count += delta;
    if (delta < 0) this.prune(levels, path);
  }

  get(topic: string): Message | null {
    let node: Node | undefined = this.root;
    for (const level of topic.split('/')) {
      node = node.children?.get(level);
      if (node === undefined) return null;
    }
    return node.msg;
  }

  private prune(levels: string[], path: Node[]): void {
    for (let i = levels.length; i > 0; i--) {
      if (path[i]!.count === 0) path[i - 1]!.children!.delete(levels[i - 1]!);
      else break;
    }
  }

  /** Every retained message whose topic matches `filter`; `$` topics never match a leading wildcard [MQTT-4.7.2-1]. */
  match(filter: string, visit: (msg: Message) => void): void {
    this.walk(this.root, filter.split('/'), 0, visit);
  }

  private walk(node: Node, levels: string[], i: number, visit: (msg: Message) => void): void {
    if (i === levels.length) {
      if (node.msg !== null) visit(node.msg);
      return;
    }
    const level = levels[i]!;
    if (level === '#') {
      // 'a/#' also matches 'a' itself [MQTT-4.7.1-2]
      if (node.msg !== null && i > 0) visit(node.msg);
      this.all(node, i === 0, visit);
      return;
    }
    if (node.children === null) return;
    if (level === '+') {
      for (const [name, child] of node.children) {
        if (i === 0 && name.startsWith('$')) continue;
        this.walk(child, levels, i + 1, visit);
      }
      return;
    }
    const child = node.children.get(level);
    if (child !== undefined) this.walk(child, levels, i + 1, visit);
  }

  private all(node: Node, top: boolean, visit: (msg: Message) => void): void {
    if (node.children === null) return;
    for (const [name, child] of node.children) {
      if (top && name.startsWith('$')) continue;
      if (child.msg !== null) visit(child.msg);
      if (child.count > (child.msg !== null ? 1 : 0)) this.all(child, false, visit);
    }
  }

  *entries(): Iterable<Message> {
    const stack: Node[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.msg !== null) yield n.msg;
      if (n.children !== null) for (const c of n.children.values()) stack.push(c);
    }
  }
}
