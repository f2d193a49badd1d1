/*
 * SHA-256 (FIPS 180-4), used to fingerprint every input file for the
 * audit trail. Streaming: init, update any number of times with pieces of
 * any size, final. No dynamic memory; the state lives in the caller's
 * struct sha256.
 */
#include <string.h>

#include "rostersync.h"

#define SHA256_BLOCK	64	/* bytes in one message block */
#define SHA256_LENPOS	56	/* offset of the bit length in the last block */

#define ROR(x, n)	((x) >> (n) | (x) << (32 - (n)))
#define CH(x, y, z)	(((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z)	(((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x)	(ROR(x, 2) ^ ROR(x, 13) ^ ROR(x, 22))
#define BSIG1(x)	(ROR(x, 6) ^ ROR(x, 11) ^ ROR(x, 25))
#define SSIG0(x)	(ROR(x, 7) ^ ROR(x, 18) ^ ((x) >> 3))
#define SSIG1(x)	(ROR(x, 17) ^ ROR(x, 19) ^ ((x) >> 10))

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static const uint32_t sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
};

static uint32_t
load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Mix one 64-byte block into the hash state h. */
static void
sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t	 w[64], a, b, c, d, e, f, g, k, t1, t2;
	int		 i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(p + 4 * i);
	for (i = 16; i < 64; i++)
		w[i] = SSIG1(w[i - 2]) + w[i - 7] + SSIG0(w[i - 15]) +
		    w[i - 16];
	a = h[0], b = h[1], c = h[2], d = h[3];
	e = h[4], f = h[5], g = h[6], k = h[7];
	for (i = 0; i < 64; i++) {
		t1 = k + BSIG1(e) + CH(e, f, g) + sha256_k[i] + w[i];
		t2 = BSIG0(a) + MAJ(a, b, c);
		k = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d;
	h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void
sha256_init(struct sha256 *s)
{
	memcpy(s->h, sha256_iv, sizeof(s->h));
	s->n = 0;
	s->fill = 0;
}

void
sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 take;

	s->n += len;
	if (s->fill > 0) {
		take = SHA256_BLOCK - s->fill;
		if (take > len)
			take = len;
		memcpy(s->blk + s->fill, p, take);
		s->fill += take;
		p += take;
		len -= take;
		if (s->fill < SHA256_BLOCK)
			return;
		sha256_block(s->h, s->blk);
		s->fill = 0;
	}
	for (; len >= SHA256_BLOCK; p += SHA256_BLOCK, len -= SHA256_BLOCK)
		sha256_block(s->h, p);
	memcpy(s->blk, p, len);
	s->fill = len;
}

/* Pad, write the digest to out and wipe the state (init before reuse). */
void
sha256_final(struct sha256 *s, unsigned char out[32])
{
	uint64_t	 bits = s->n * 8;
	int		 i;

	s->blk[s->fill++] = 0x80;
	if (s->fill > SHA256_LENPOS) {
		memset(s->blk + s->fill, 0, SHA256_BLOCK - s->fill);
		sha256_block(s->h, s->blk);
		s->fill = 0;
	}
	memset(s->blk + s->fill, 0, SHA256_LENPOS - s->fill);
	store_be32(s->blk + SHA256_LENPOS, (uint32_t)(bits >> 32));
	store_be32(s->blk + SHA256_LENPOS + 4, (uint32_t)bits);
	sha256_block(s->h, s->blk);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, s->h[i]);
	memset(s, 0, sizeof(*s));
}

/* 64 lowercase hex digits and a NUL. */
void
sha256_hex(const unsigned char in[32], char out[65])
{
	static const char	 hex[] = "0123456789abcdef";
	int			 i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0x0f];
	}
	out[64] = '\0';
}
