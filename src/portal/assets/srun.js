// The Srun portal's client algorithms, as the server checks them (src/portal/srun_codec.rs):
// hmd5 = HMAC-MD5(challenge, password); info = "{SRBX1}" + Srun base64 of
// xencode(JSON, challenge); chksum = SHA-1 of the challenge-interleaved parameters.
// Plain JavaScript on purpose: the page is served over HTTP before login, where
// crypto.subtle does not exist, and no CDN is reachable.
(function (global) {
  "use strict";

  var ALPHABET = "LVoJPiCN2R8G90yg+hmFHuacZ1OWMnrsSTXkYpUq/3dlbfKwv6xztjI7DeBE45QA";

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  function hex(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] + 0x100).toString(16).slice(1);
    return out;
  }

  var MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  var MD5_K = [];
  for (var i = 0; i < 64; i++) MD5_K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296);

  function md5(msg) {
    var len = msg.length;
    var blocks = ((len + 8) >> 6) + 1;
    var w = new Uint32Array(blocks * 16);
    for (var i = 0; i < len; i++) w[i >> 2] |= msg[i] << ((i % 4) * 8);
    w[len >> 2] |= 0x80 << ((len % 4) * 8);
    w[blocks * 16 - 2] = len * 8;
    var h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];
    for (var off = 0; off < w.length; off += 16) {
      var a = h[0], b = h[1], c = h[2], d = h[3];
      for (var j = 0; j < 64; j++) {
        var f, g;
        if (j < 16) { f = (b & c) | (~b & d); g = j; }
        else if (j < 32) { f = (d & b) | (~d & c); g = (5 * j + 1) % 16; }
        else if (j < 48) { f = b ^ c ^ d; g = (3 * j + 5) % 16; }
        else { f = c ^ (b | ~d); g = (7 * j) % 16; }
        var s = MD5_S[(j >> 4) * 4 + (j % 4)];
        var x = (a + f + MD5_K[j] + w[off + g]) | 0;
        a = d; d = c; c = b;
        b = (b + ((x << s) | (x >>> (32 - s)))) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    }
    var out = new Uint8Array(16);
    for (var k = 0; k < 16; k++) out[k] = (h[k >> 2] >>> ((k % 4) * 8)) & 255;
    return out;
  }

  function hmacMd5(key, msg) {
    if (key.length > 64) key = md5(key);
    var inner = new Uint8Array(64 + msg.length);
    var outer = new Uint8Array(64 + 16);
    for (var i = 0; i < 64; i++) {
      var k = i < key.length ? key[i] : 0;
      inner[i] = k ^ 0x36;
      outer[i] = k ^ 0x5c;
    }
    inner.set(msg, 64);
    outer.set(md5(inner), 64);
    return md5(outer);
  }

  function rotl(x, n) {
    return (x << n) | (x >>> (32 - n));
  }

  function sha1(msg) {
    var len = msg.length;
    var blocks = ((len + 8) >> 6) + 1;
    var m = new Uint32Array(blocks * 16);
    for (var i = 0; i < len; i++) m[i >> 2] |= msg[i] << (24 - (i % 4) * 8);
    m[len >> 2] |= 0x80 << (24 - (len % 4) * 8);
    m[blocks * 16 - 1] = len * 8;
    var h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];
    var w = new Int32Array(80);
    for (var off = 0; off < m.length; off += 16) {
      for (var t = 0; t < 80; t++) {
        w[t] = t < 16 ? m[off + t] : rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
      for (t = 0; t < 80; t++) {
        var f, k;
        if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc | 0; }
        else { f = b ^ c ^ d; k = 0xca62c1d6 | 0; }
        var tmp = (rotl(a, 5) + f + e + k + w[t]) | 0;
        e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0;
      h[3] = (h[3] + d) | 0; h[4] = (h[4] + e) | 0;
    }
    var out = new Uint8Array(20);
    for (var n = 0; n < 20; n++) out[n] = (h[n >> 2] >>> (24 - (n % 4) * 8)) & 255;
    return out;
  }

  // Little-endian 32-bit words; missing bytes count as 0.
  function words(bytes) {
    var v = [];
    for (var i = 0; i < bytes.length; i++) {
      v[i >> 2] = (v[i >> 2] | 0) | (bytes[i] << ((i % 4) * 8));
    }
    return v;
  }

  // Srun's XXTEA variant: the message length travels as a last word.
  function xencode(msg, challenge) {
    if (msg.length === 0) return new Uint8Array(0);
    var v = words(msg);
    v.push(msg.length);
    var k = words(challenge).slice(0, 4);
    while (k.length < 4) k.push(0);
    var n = v.length - 1;
    var z = v[n];
    var sum = 0;
    for (var q = 6 + Math.floor(52 / (n + 1)); q > 0; q--) {
      sum = (sum + 0x9e3779b9) | 0;
      var e = (sum >>> 2) & 3;
      for (var p = 0; p <= n; p++) {
        var y = v[(p + 1) % (n + 1)];
        var mx = (((z >>> 5) ^ (y << 2)) + (((y >>> 3) ^ (z << 4)) ^ (sum ^ y)) + (k[(p & 3) ^ e] ^ z)) | 0;
        v[p] = (v[p] + mx) | 0;
        z = v[p];
      }
    }
    var out = new Uint8Array(v.length * 4);
    for (var b = 0; b < out.length; b++) out[b] = (v[b >> 2] >>> ((b % 4) * 8)) & 255;
    return out;
  }

  function base64(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i += 3) {
      var rest = bytes.length - i;
      var n = (bytes[i] << 16) | ((rest > 1 ? bytes[i + 1] : 0) << 8) | (rest > 2 ? bytes[i + 2] : 0);
      for (var j = 0; j < 4; j++) {
        out += j <= rest ? ALPHABET.charAt((n >>> (18 - 6 * j)) & 63) : "=";
      }
    }
    return out;
  }

  // The parameters of a login, signed as the server checks them.
  function loginParams(username, password, ip, acId, challenge) {
    var t = challenge;
    var json = JSON.stringify({
      username: username, password: password, ip: ip, acid: acId, enc_ver: "srun_bx1"
    });
    var info = "{SRBX1}" + base64(xencode(utf8(json), utf8(t)));
    var hmd5 = hex(hmacMd5(utf8(t), utf8(password)));
    var signed = t + username + t + hmd5 + t + acId + t + ip + t + "200" + t + "1" + t + info;
    return {
      action: "login", username: username, password: "{MD5}" + hmd5, ac_id: acId, ip: ip,
      chksum: hex(sha1(utf8(signed))), info: info, n: "200", type: "1",
      os: "turnstile", name: "web", double_stack: "0"
    };
  }

  global.Srun = {
    utf8: utf8, hex: hex, md5: md5, hmacMd5: hmacMd5, sha1: sha1,
    xencode: xencode, base64: base64, loginParams: loginParams
  };
})(window);
