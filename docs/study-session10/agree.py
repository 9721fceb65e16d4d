"""Agreement of the two blind readings with the realtext_dev labels (session 10).

Usage: python3 docs/study-session10/agree.py [--noise OUT.json]
Reads ../shared/datasets/realtext_dev.jsonl beside the project; skips with a message when it is absent.
"""
import collections, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATASET = os.path.join(HERE, '..', '..', '..', 'shared', 'datasets', 'realtext_dev.jsonl')


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return {d['id']: d for d in (json.loads(l) for l in f if l.strip())}


def kappa(pairs):
    n = len(pairs)
    po = sum(a == b for a, b in pairs) / n
    ca = collections.Counter(a for a, _ in pairs)
    cb = collections.Counter(b for _, b in pairs)
    pe = sum(ca[k] * cb[k] for k in ca) / n / n
    return (po - pe) / (1 - pe)


def report(name, pairs):
    c = sum(a == b for a, b in pairs)
    print(f'{name}: {c}/{len(pairs)} = {100 * c / len(pairs):.1f}%  kappa {kappa(pairs):.3f}')


def main():
    if not os.path.exists(DATASET):
        print(f'{DATASET} not found (../shared/datasets beside the project): skipping', file=sys.stderr)
        return
    with open(DATASET) as f:
        rows = [json.loads(l) for l in f]
    a, b = load('readerA.jsonl'), load('readerB.jsonl')
    ids = [i for i, r in enumerate(rows) if i % 5 != 0 and r['topic'] is not None]
    for field in ('topic', 'type'):
        print(f'== {field}')
        report('reader A vs label', [(a[i][field], rows[i][field]) for i in ids])
        report('reader B vs label', [(b[i][field], rows[i][field]) for i in ids])
        report('A vs B', [(a[i][field], b[i][field]) for i in ids])
        if field == 'topic':
            for lang in ('zh-Hans', 'zh-Hant', 'en', 'mixed'):
                for name, r in (('A', a), ('B', b)):
                    report(f'  {lang} reader {name} vs label', [(r[i]['topic'], rows[i]['topic']) for i in ids if rows[i]['lang'] == lang])
            clear = [i for i in ids if a[i]['sure'] and b[i]['sure'] and a[i]['topic'] == b[i]['topic'] == rows[i]['topic']]
            print(f'rows both readers marked sure and labelled as the label: {len(clear)}')
    if '--noise' in sys.argv:
        noise = [i for i in ids if a[i]['topic'] == b[i]['topic'] != rows[i]['topic']]
        with open(sys.argv[sys.argv.index('--noise') + 1], 'w') as f:
            json.dump(noise, f)
        print(f'noise rows (both readers agree, not with the label): {len(noise)}')


main()
