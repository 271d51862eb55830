/** Argument checks shared by the crypto providers. */

/** True when every byte is zero; constant-time over the length (OR every byte, test once). */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i];
  return acc === 0;
}

/** Throws a TypeError unless `bytes` is a Uint8Array of exactly `length` bytes. */
export function checkLength(name: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new TypeError(`${name} must be a Uint8Array of ${length} bytes`);
  }
}
