/**
 * The customer of the 200-conversation load benchmark (`bench:bot`), shared with `bench:live` so
 * that "under the existing 200-conversation load" means the same load in both: a web chat customer
 * over Direct Line who files a complaint and then looks it up, 5 turns (complaint → confirm → skip
 * contact → status lookup → help), each timed from send to the bot's reply.
 */
import { DirectLineClient } from './directline-client.js';

/** The complaints the load's customers write (customer `i` writes `COMPLAINTS[i % 10]`). */
export const COMPLAINTS = [
  '我的快递三天了还没到，物流信息一直不更新',
  '收到的衣服有破洞，质量太差了',
  '退款申请了两周还没到账',
  '这个月话费多扣了三十块，怎么回事',
  '登录一直提示验证码错误',
  '空调装好第二天就不制冷了，要求上门维修',
  '客服电话打了一个小时都没人接',
  '宽带晚上一直断网，根本没法用',
  '每天都收到你们的推销短信，怎么退订',
  '有人用我的账号在外地登录了',
];

/** What one load customer reports. */
export interface LoadRecorder {
  /** Every turn's reply latency (ms). */
  turn(ms: number): void;
  /** The first turn's (a new conversation's) latency (ms). */
  first?(ms: number): void;
  /**
   * How long the reply reached the stream after the POST was answered (ms, 0 when it came first).
   * The POST is answered once the bot has taken the turn (its reply appended), so a long wait here
   * is the stream's push, not the bot's or the database's work.
   */
  pushWait?(ms: number): void;
}

/**
 * One load customer: 5 turns, each timed from send to the bot's reply. The stream is on
 * `bases[0]`; turns are posted to the bases in turn (two processes: half the replies cross the
 * database). `thinkMs` 0 is the stress test (the next message the moment the reply arrives);
 * otherwise the customer reads and types for a random 0.5–1.5 × `thinkMs` before each message.
 */
export async function loadConversation(bases: string[], i: number, record: LoadRecorder, thinkMs: number): Promise<void> {
  const c = await DirectLineClient.open(bases[0], '');
  let turnNo = 0;
  try {
    const turn = async (text: string, expect: RegExp) => {
      if (thinkMs > 0) await new Promise((r) => setTimeout(r, thinkMs * (0.5 + Math.random())));
      const via = bases[turnNo++ % bases.length];
      const t0 = performance.now();
      const sent = await c.send(text, via);
      const posted = performance.now();
      const reply = await c.replyTo(sent, 30_000);
      const ms = performance.now() - t0;
      record.pushWait?.(Math.max(0, t0 + ms - posted));
      record.turn(ms);
      if (turnNo === 1) record.first?.(ms);
      if (!expect.test(reply.text ?? '')) throw new Error(`unexpected reply to "${text}": ${reply.text}`);
      return reply.text ?? '';
    };
    await turn(COMPLAINTS[Math.abs(i) % COMPLAINTS.length], /对吗|请帮我选一下/);
    const second = await turn('对', /手机号|请选择|对吗|请帮我选一下/);
    const done = /手机号/.test(second) ? await turn('跳过', /T\d{8}-\d{4}/) : await turn('取消', /取消/);
    const number = done.match(/T\d{8}-\d{4}/)?.[0];
    await turn(number ? `查询工单 ${number}` : '查询我的工单', /工单|ticket/i);
    await turn('帮助', /查询工单/);
  } finally {
    c.close();
  }
}
