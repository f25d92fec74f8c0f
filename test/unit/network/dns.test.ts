/**
 * DNS messages (against hand-assembled RFC 1035 bytes) and the embedded DNS
 * server on 127.0.0.1 with a fake upstream, over UDP and TCP.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { aRecord, decode, DnsFormatError, encode, ptrRecord, RCODE, replyTo, reverseIPv4, TYPE, type Message } from "../../../src/engine/network/dns/wire.ts";
import { DnsRegistry, DnsServer, forwardTcp, forwardUdp, parseUpstream } from "../../../src/engine/network/dns.ts";

const hex = (s: string) => new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

// id 0x1234, RD, one question: example.com A IN
const QUERY = hex("1234 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001");

function query(name: string, type: number = TYPE.A, id = 7): Uint8Array {
  return encode({ id, flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 }, questions: [{ name, type, class: 1 }], answers: [], authorities: [], additionals: [] });
}

describe("DNS wire format", () => {
  test("decodes a hand-assembled query and encodes it back byte for byte", () => {
    const m = decode(QUERY);
    expect(m.id).toBe(0x1234);
    expect(m.flags).toEqual({ qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 });
    expect(m.questions).toEqual([{ name: "example.com", type: 1, class: 1 }]);
    expect(encode(m)).toEqual(QUERY);
  });

  test("answers use name compression (pointer to the question) and decode back", () => {
    const q = decode(QUERY);
    const r = encode(replyTo(q, RCODE.NOERROR, [aRecord("example.com", "172.20.0.2", 600), aRecord("example.com", "172.20.0.3", 600)]));
    // header 12 + question 17; each answer: pointer c00c, type, class, ttl, len 4, address
    expect(Array.from(r.subarray(29, 29 + 16))).toEqual([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 2, 0x58, 0, 4, 172, 20, 0, 2]);
    expect(r.length).toBe(29 + 32);
    const d = decode(r);
    expect(d.flags.qr).toBe(true);
    expect(d.flags.aa).toBe(true);
    expect(d.answers.map((a) => [a.name, a.value, a.ttl])).toEqual([
      ["example.com", "172.20.0.2", 600],
      ["example.com", "172.20.0.3", 600],
    ]);
  });

  test("PTR records and reverse names", () => {
    const m: Message = replyTo(decode(query("2.0.20.172.in-addr.arpa", TYPE.PTR)), 0, [ptrRecord("2.0.20.172.in-addr.arpa", "web", 600)]);
    expect(decode(encode(m)).answers[0]!.value).toBe("web");
    expect(reverseIPv4("2.0.20.172.in-addr.arpa.")).toBe("172.20.0.2");
    expect(reverseIPv4("example.com")).toBeUndefined();
  });

  test("hostile messages: truncation, pointer loops, forward pointers, overlong names", () => {
    expect(() => decode(QUERY.subarray(0, 20))).toThrow(DnsFormatError);
    // question name is a pointer to itself
    expect(() => decode(hex("0001 0000 0001 0000 0000 0000 c00c 0001 0001"))).toThrow(/bad compression pointer/);
    // pointer forward, past itself
    expect(() => decode(hex("0001 0000 0001 0000 0000 0000 c010 0001 0001 00"))).toThrow(/bad compression pointer/);
    const long = "3f" + "61".repeat(63);
    expect(() => decode(hex(`0001 0000 0001 0000 0000 0000 ${long.repeat(5)} 00 0001 0001`))).toThrow(/name too long/);
    expect(() => encode({ ...decode(QUERY), questions: [{ name: "a".repeat(64) + ".com", type: 1, class: 1 }] })).toThrow(/label too long/);
  });
});

describe("embedded DNS server", () => {
  const reg = new DnsRegistry();
  let server: DnsServer;
  let up: { port: number; close(): void };
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    const fake = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      binaryType: "uint8array",
      socket: {
        data(sock, data, p, addr) {
          const q = decode(data);
          seen.push(q.questions[0]!.name);
          sock.send(encode(replyTo(q, RCODE.NOERROR, [aRecord(q.questions[0]!.name, "127.0.0.42", 60)], false)), p, addr);
        },
      },
    });
    up = fake;
    // a free port for both UDP and TCP
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    port = probe.port;
    probe.stop(true);
    server = await DnsServer.start({ networkId: "n1", address: "127.0.0.1", port, registry: reg, upstreams: () => [{ host: "127.0.0.1", port: fake.port }], timeoutMs: 500 });
  });
  afterAll(() => {
    server?.stop();
    up?.close();
  });

  const ask = async (name: string, type: number = TYPE.A) => decode((await forwardUdp(query(name, type), { host: "127.0.0.1", port }, 2000))!);

  test("only containers on the network are answered", async () => {
    const r = await ask("web");
    expect(r.flags.rcode).toBe(RCODE.REFUSED);
    expect(seen).toEqual([]);
  });

  test("names, aliases, case, AAAA, PTR; names of a network the client is not on are not visible", async () => {
    reg.set("n1", "client", "127.0.0.1", ["client"]);
    reg.set("n1", "srv1", "172.20.0.2", ["web", "www", "srv1"]);
    reg.set("n1", "srv2", "172.20.0.3", ["www"]);
    reg.set("n2", "other", "172.21.0.2", ["secret"]);
    expect((await ask("web")).answers.map((a) => a.value)).toEqual(["172.20.0.2"]);
    expect((await ask("WWW.")).answers.map((a) => a.value).sort()).toEqual(["172.20.0.2", "172.20.0.3"]);
    const aaaa = await ask("web", TYPE.AAAA);
    expect([aaaa.flags.rcode, aaaa.answers.length]).toEqual([RCODE.NOERROR, 0]);
    expect((await ask("2.0.20.172.in-addr.arpa", TYPE.PTR)).answers[0]!.value).toBe("web");
    // n2's name is not ours: forwarded upstream, not answered from n2
    expect((await ask("secret")).answers.map((a) => a.value)).toEqual(["127.0.0.42"]);
    expect(seen).toEqual(["secret"]);
    // once the client is on n2 too, n2's names are visible to it
    reg.set("n2", "client", "172.21.0.9", ["client"]);
    expect((await ask("secret")).answers.map((a) => a.value)).toEqual(["172.21.0.2"]);
    reg.remove("n2", "client");
  });

  test("unknown names go upstream (UDP and TCP); the container's own --dns wins; no upstream answers SERVFAIL", async () => {
    seen.length = 0;
    const r = await ask("upstream.test");
    expect(r.answers.map((a) => a.value)).toEqual(["127.0.0.42"]);
    expect(seen).toEqual(["upstream.test"]);
    const t = decode((await forwardTcp(query("web", TYPE.A, 99), { host: "127.0.0.1", port }, 2000))!);
    expect([t.id, t.answers[0]!.value]).toEqual([99, "172.20.0.2"]);
    reg.set("n1", "client", "127.0.0.1", ["client"], [parseUpstream("127.0.0.1:9")]); // nothing listens on port 9
    const fail = await ask("elsewhere.test");
    expect(fail.flags.rcode).toBe(RCODE.SERVFAIL);
  });

  test("a server that must not forward (internal network) answers unknown names SERVFAIL without asking upstream", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const p2 = probe.port;
    probe.stop(true);
    const reg2 = new DnsRegistry();
    reg2.set("n9", "c", "127.0.0.1", ["c", "db"]);
    const s2 = await DnsServer.start({ networkId: "n9", address: "127.0.0.1", port: p2, registry: reg2, upstreams: () => [{ host: "127.0.0.1", port: up.port }], forward: false });
    try {
      seen.length = 0;
      const r = decode((await forwardUdp(query("upstream.test"), { host: "127.0.0.1", port: p2 }, 2000))!);
      expect(r.flags.rcode).toBe(RCODE.SERVFAIL);
      expect(seen).toEqual([]);
      expect(decode((await forwardUdp(query("db"), { host: "127.0.0.1", port: p2 }, 2000))!).answers[0]!.value).toBe("127.0.0.1");
    } finally {
      s2.stop();
    }
  });

  test("garbage gets FORMERR or nothing; the server keeps answering", async () => {
    const bad = await forwardUdp(hex("4242 0100 0001 0000 0000 0000 c00c"), { host: "127.0.0.1", port }, 1000);
    expect(decode(bad!).flags.rcode).toBe(RCODE.FORMERR);
    expect((await ask("web")).answers.length).toBe(1);
  });
});
