/** Sparse vectors and a compressed-sparse-row matrix for the linear models. */

/** A sparse vector: parallel arrays of feature ids and values. */
export interface SparseVector {
  idx: Int32Array;
  val: Float32Array;
}

/** Rows of sparse vectors packed into three arrays (CSR). */
export interface CsrMatrix {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/** Packs sparse vectors into a CSR matrix with `cols` columns. */
export function toCsr(vectors: readonly SparseVector[], cols: number): CsrMatrix {
  let nnz = 0;
  for (const v of vectors) nnz += v.idx.length;
  const indptr = new Int32Array(vectors.length + 1);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let p = 0;
  vectors.forEach((v, r) => {
    indices.set(v.idx, p);
    values.set(v.val, p);
    p += v.idx.length;
    indptr[r + 1] = p;
  });
  return { rows: vectors.length, cols, indptr, indices, values };
}

/** Selects rows of a CSR matrix. */
export function selectRows(m: CsrMatrix, rows: ArrayLike<number>): CsrMatrix {
  let nnz = 0;
  for (let i = 0; i < rows.length; i++) nnz += m.indptr[rows[i] + 1] - m.indptr[rows[i]];
  const indptr = new Int32Array(rows.length + 1);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let p = 0;
  for (let i = 0; i < rows.length; i++) {
    const s = m.indptr[rows[i]];
    const e = m.indptr[rows[i] + 1];
    indices.set(m.indices.subarray(s, e), p);
    values.set(m.values.subarray(s, e), p);
    p += e - s;
    indptr[i + 1] = p;
  }
  return { rows: rows.length, cols: m.cols, indptr, indices, values };
}

/** Dot product of row `r` of `m` with a dense vector. */
export function rowDot(m: CsrMatrix, r: number, w: Float64Array | Float32Array): number {
  let s = 0;
  for (let p = m.indptr[r], e = m.indptr[r + 1]; p < e; p++) s += m.values[p] * w[m.indices[p]];
  return s;
}

/** Encodes a typed array as base64 (little-endian bytes), for JSON model artifacts. */
export function typedToBase64(a: Float32Array | Int32Array | Uint32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

/** Decodes base64 produced by {@link typedToBase64}; checks the byte length. */
export function base64ToFloat32(s: string, expectedLength?: number): Float32Array {
  const b = Buffer.from(s, 'base64');
  if (b.byteLength % 4 !== 0) throw new RangeError('byte length is not a multiple of 4');
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new RangeError(`expected ${expectedLength} values, found ${out.length}`);
  }
  return out;
}

/** Decodes base64 Int32 data produced by {@link typedToBase64}. */
export function base64ToInt32(s: string, expectedLength?: number): Int32Array {
  const f = base64ToFloat32(s, expectedLength);
  return new Int32Array(f.buffer);
}
