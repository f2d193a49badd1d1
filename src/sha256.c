/*
 * SHA-256 of every input file, for the audit trail: OpenSSL's
 * implementation (libcrypto, which libssh links already) through its EVP
 * interface, in the streaming shape the fetch wants: init, update any
 * number of times with pieces of any size, final. test_load_csv checks
 * the known answers.
 */
#include <openssl/evp.h>

#include "rostersync.h"

void
sha256_init(struct sha256 *h)
{
	if ((h->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		fatalx("libcrypto cannot start a SHA-256 digest");
}

void
sha256_update(struct sha256 *h, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(h->ctx, p, n) != 1)
		fatalx("libcrypto: SHA-256 failed");
}

/* The digest into out; h is done with (sha256_free() is not needed). */
void
sha256_final(struct sha256 *h, unsigned char out[32])
{
	unsigned int	 n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != 32)
		fatalx("libcrypto: SHA-256 failed");
	sha256_free(h);
}

/* A digest given up before its final; safe after sha256_final(). */
void
sha256_free(struct sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void
sha256_hex(const unsigned char in[32], char out[65])
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[64] = '\0';
}
