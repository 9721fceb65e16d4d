/**
 * npm run -s console: an interactive console that classifies what you type with the default model
 * (Chinese first, English second). Piped input works too: one message per line.
 */
import { createInterface } from 'node:readline';
import { ClassifierError } from '../classifier/errors.js';
import { loadDemandClassifier } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { loadTaxonomy } from '../runtime/project-data.js';
import { flags, runCli } from './cli.js';

runCli(async () => {
  flags({}, undefined, '< messages.txt (or type them, one per line)'); // no flags: `--help` answers, anything else is a usage error rather than ignored
  const config = loadConfig(process.env);
  const classifier = await loadDemandClassifier(config);
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const topicName = new Map(taxonomy.topics.map((t) => [t.id, `${t.name.zh} ${t.name.en}`]));
  const typeName = new Map(taxonomy.types.map((t) => [t.id, `${t.name.zh} ${t.name.en}`]));
  const interactive = process.stdin.isTTY;
  if (interactive) {
    process.stdout.write(`客户诉求分类器 Demand classifier · 模型 model ${classifier.version}\n请输入客户留言，回车分类；Ctrl+D 退出。Type a customer message and press Enter; Ctrl+D quits.\n`);
  }
  const rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, prompt: '> ' });
  if (interactive) rl.prompt();
  for await (const line of rl) {
    try {
      const r = classifier.classify(line);
      const parts = r.spam
        ? [`垃圾信息 spam (${pct(r.spamScore)})`]
        : r.topic
          ? [
              `主题 topic: ${topicName.get(r.topic)} (${pct(r.confidence)})`,
              `类型 type: ${typeName.get(r.type!)} (${pct(r.typeConfidence)})`,
              `备选 alternatives: ${r.alternatives.map((a) => `${a.topic} ${pct(a.score)}`).join(', ')}`,
              `关键词 keywords: ${r.keywords.filter((k) => k.topic === r.topic).map((k) => k.term).join(' ') || '—'}`,
            ]
          : ['无法分类 nothing to classify'];
      parts.push(`语言 lang: ${r.lang}${r.needsReview ? ` · 需人工复核 needs review (${r.reason})` : ''}`);
      process.stdout.write(parts.map((p) => `  ${p}`).join('\n') + '\n');
    } catch (err) {
      if (!(err instanceof ClassifierError)) throw err;
      process.stdout.write(`  ${err.message}\n`);
    }
    if (interactive) rl.prompt();
  }
});

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}
