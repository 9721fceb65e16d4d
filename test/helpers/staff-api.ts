/** The staff API over real HTTP, as a signed-in staff member. */

/** A request to the app at `url` with bearer `token`: its status and parsed JSON body ({} when empty). */
export async function staffRequest(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}
