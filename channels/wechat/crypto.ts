/**
 * WeChat's message signatures and safe-mode encryption, as the Official Account documentation
 * ("消息加解密说明") describes them. Pure functions over Node's crypto; no I/O.
 *
 * - URL verification and plaintext pushes: `signature = sha1(sort([token, timestamp, nonce]).join(''))`.
 * - Safe mode: `msg_signature = sha1(sort([token, timestamp, nonce, Encrypt]).join(''))`; the
 *   `Encrypt` field is base64 of AES-256-CBC (key = base64 decode of EncodingAESKey + "=", IV = the
 *   key's first 16 bytes, PKCS#7 padded to a multiple of 32 bytes) over
 *   `16 random bytes + 4-byte big-endian length of msg + msg + appid`.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../core/app-error.js';

/** A signature that does not match: the request did not come from WeChat (HTTP 401). */
export class WeChatSignatureError extends AppError {
  readonly code = 'WECHAT_BAD_SIGNATURE';
}

/** An encrypted body that does not decrypt, is malformed or names another app (HTTP 400). */
export class WeChatDecryptError extends AppError {
  readonly code = 'WECHAT_BAD_ENCRYPTION';
}

const BLOCK = 32;

/** sha1 over the lexicographically sorted parts, hex: WeChat's signature. */
export function wechatSignature(...parts: string[]): string {
  return createHash('sha1').update([...parts].sort().join('')).digest('hex');
}

/** Compares a received signature with the expected one in constant time. */
export function signatureMatches(received: unknown, expected: string): boolean {
  if (typeof received !== 'string' || received.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(received.toLowerCase()), Buffer.from(expected));
}

/** The 32-byte AES key of an EncodingAESKey (43 base64 characters without the trailing "="). */
export function aesKeyOf(encodingAesKey: string): Buffer {
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (encodingAesKey.length !== 43 || key.length !== 32) throw new WeChatDecryptError('EncodingAESKey must be 43 base64 characters (32 bytes)');
  return key;
}

/** Encrypts a message for WeChat (a passive reply in safe mode, or a stand-in's push). */
export function encryptMessage(key: Buffer, appId: string, message: string, random: Buffer = randomBytes(16)): string {
  if (random.length !== 16) throw new Error('the random prefix is 16 bytes');
  const msg = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(msg.length);
  const plain = Buffer.concat([random, length, msg, Buffer.from(appId, 'utf8')]);
  const pad = BLOCK - (plain.length % BLOCK);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  // WeChat pads to 32-byte blocks (PKCS#7 with block size 32), which Node's 16-byte auto padding is not.
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64');
}

/** Decrypts an `Encrypt` field; checks the padding, the length and that the message is for `appId`. */
export function decryptMessage(key: Buffer, appId: string, encrypted: string): string {
  const data = Buffer.from(encrypted, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new WeChatDecryptError('encrypted message is not a whole number of AES blocks');
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch (err) {
    throw new WeChatDecryptError('encrypted message does not decrypt', { cause: err });
  }
  const pad = plain[plain.length - 1];
  if (pad < 1 || pad > BLOCK || pad > plain.length || !plain.subarray(plain.length - pad).every((b) => b === pad)) {
    throw new WeChatDecryptError('encrypted message has bad padding (wrong EncodingAESKey?)');
  }
  const body = plain.subarray(0, plain.length - pad);
  if (body.length < 20) throw new WeChatDecryptError('encrypted message is too short');
  const length = body.readUInt32BE(16);
  if (20 + length > body.length) throw new WeChatDecryptError('encrypted message length is out of range');
  const from = body.subarray(20 + length).toString('utf8');
  if (from !== appId) throw new WeChatDecryptError(`encrypted message is for app id "${from.slice(0, 64)}", not this account`);
  return body.subarray(20, 20 + length).toString('utf8');
}
