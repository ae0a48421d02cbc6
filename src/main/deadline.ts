// A start-up step that waits on something outside main (a shard thread, the kernel) gets a
// deadline: the broker then stops with one line saying what it waited for, instead of hanging
// with no output.
import { ErrorCode, ShoalError } from '../shared/errors.ts';

export async function within<T>(step: Promise<T>, ms: number, waitingFor: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ShoalError(ErrorCode.START_TIMEOUT, `gave up after ${ms} ms waiting for ${waitingFor} (--start-timeout)`)), ms);
  });
  try {
    return await Promise.race([step, late]);
  } finally {
    clearTimeout(timer);
  }
}
