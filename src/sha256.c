/*
 * SHA-256 of every input file, for the audit trail: OpenSSL's
 * implementation (libcrypto, which libssh links already) through its EVP
 * interface, in the streaming shape the fetch wants: init, update any
 * number of times with pieces of any size, final. test_load_csv checks
 * the known answers.
 *
 * A big copy hashes on a second thread while the next block is copied
 * (sha256_bg_*, fetch_dir.c): the fetch of a 148 MB export takes the time
 * of the copy instead of the copy and the hash one after the other.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------- beside a copy */

struct sha256_bg {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct sha256	*h;
	const void	*p;		/* the block to hash, NULL: none */
	size_t		 n;
	int		 quit;
};

static void *
sha256_bg_main(void *arg)
{
	struct sha256_bg	*b = arg;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (b->p == NULL && !b->quit)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->p == NULL)
			break;
		pthread_mutex_unlock(&b->mu);
		sha256_update(b->h, b->p, b->n);
		pthread_mutex_lock(&b->mu);
		b->p = NULL;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* NULL when no thread can be made: the caller hashes itself. */
struct sha256_bg *
sha256_bg_start(struct sha256 *h)
{
	struct sha256_bg	*b = xcalloc(1, sizeof(*b));

	b->h = h;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (thread_start("sha256", &b->th, sha256_bg_main, b) != 0) {
		pthread_mutex_destroy(&b->mu);
		pthread_cond_destroy(&b->cv);
		free(b);
		return NULL;
	}
	return b;
}

/* Hash n bytes at p once the block before is done; p must stay as it is
 * until the next sha256_bg_give() or sha256_bg_end(). */
void
sha256_bg_give(struct sha256_bg *b, const void *p, size_t n)
{
	pthread_mutex_lock(&b->mu);
	while (b->p != NULL)
		pthread_cond_wait(&b->cv, &b->mu);
	b->p = p;
	b->n = n;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Wait for the last block, end the thread and free b (NULL is fine). */
void
sha256_bg_end(struct sha256_bg *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->quit = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b);
}
