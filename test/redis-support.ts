/** ioredis as a test client: connects to 127.0.0.1 once, never retries, never reconnects. */
import { Redis, type RedisOptions } from "ioredis";

export async function connectRedis(port: number, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    ...options,
  });
  client.on("error", () => undefined); // failures are asserted through the promises
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}
