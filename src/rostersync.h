/*
 * rostersync: keep a user directory in step with HR exports. This header
 * is the map: the records that flow between the stages, every limit, and
 * every module's prototypes under its name. One run takes one input file
 * of one sync through the pipeline:
 *
 *   fetch -> load -> validate -> diff -> guard -> apply -> report -> publish
 *
 * Each stage calls the ones before it and the shared parts below them
 * all, never a later stage nor one that calls it back (t_layers.sh checks
 * this on the objects). The files, top to bottom:
 *
 *   main.c        the command table, options         (on top)
 *   run.c         one run end to end, recovery of interrupted runs
 *   decide.c      approve, reject, cancel, retry, confirm
 *   cli.c views.c the read-only views: history, show, items, report;
 *                 users, user, status (table.c: text tables)
 *   fetch.c       settled files into spool/incoming/SYNC/, the ledger;
 *                 fetch_dir.c (a local drop-zone), fetch_sftp.c (libssh;
 *                 sftp_xfer.c moves its file data over several channels)
 *   load.c        the format by content, the header mapped to the sync's
 *                 slots, one struct record per row; load_csv.c and
 *                 load_xlsx.c only emit raw rows
 *   validate.c    row checks while loading, cross-row checks after: issues
 *   diff.c        the export against the directory: items
 *   guard.c       the thresholds, the approval mode, one-time overrides
 *   apply.c       one transaction: directory, items, issues, run status;
 *                 hook.c, hook_stream.c: the apply hook, exec and stream
 *   report.c      the report files (a table of formats); summary.c what
 *                 every report says; report_csv.c, report_xlsx.c,
 *                 runlog.c one writer per format
 *   publish.c     the reports back to the source
 *   ---- shared by the stages, below them ----
 *   snapshot.c    the key snapshot and the known lines files (a cache)
 *   job.c         the job's key table, teams, and how a row reads (the
 *                 kept rows' file)
 *   known.c       the known-lines fast path's hashes (private: known.h)
 *   store.c       every SQL statement (nothing else speaks SQL), the
 *                 connection, migrations; store_io.c the I/O tuning,
 *                 store_dir.c the directory and its counts, store_run.c
 *                 the records of runs, store_query.c what the views
 *                 read (store_int.h: theirs alone)
 *   spool.c       the lock, durable moves, names, retention
 *   config.c      libconfig, checked      calendar.c  OnCalendar
 *   roles.c       who may run what         names.c     status names
 *   progress.c    a long phase's progress  log.c       stderr, journal
 *   sha256.c      SHA-256 (libcrypto)      json.c      a bounded reader
 *   util.c        buffers, arenas, hash maps, emails, time
 *
 * rostersync-ldap.c is another program: the LDAP connector the stream
 * hook feeds. Nothing after load.c knows whether the input was CSV or
 * XLSX. A function that returns memory says who frees it above it.
 */
#ifndef ROSTERSYNC_H
#define ROSTERSYNC_H

#include <sys/types.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct store;
struct known;
struct rawhint;
struct rowhint;
struct early;
struct xlsx_early;
struct job;

#define RS_VERSION		"0.1.0"
#define RS_DEFAULT_CONFIG	"/etc/rostersync/rostersync.conf"

/* Limits on untrusted input (all of it comes from the drop-zone). */
#define MAX_COLUMNS		1024	/* columns in a header row */
#define MAX_FIELD_LEN		(64 * 1024) /* bytes in one cell */
#define MAX_FIELD_HARD		(16 * 1024 * 1024) /* a cell past this: file fails */
#define MAX_ROWS		(20 * 1000 * 1000) /* data rows in one file */
#define MAX_SLOTS		128	/* mapped fields in one sync */
#define MAX_KEY_FIELDS		4	/* columns in a composite key */
#define MAX_NAME_LEN		255	/* a file name taken from a source */
#define MAX_INPUT_SIZE		(8LL * 1024 * 1024 * 1024) /* one input file */
#define MAX_ERRMSG		512	/* one error message */
#define MAX_HINT		2048	/* what to do about one */
#define HEADER_SHOWN_MAX	200	/* a header's columns named in one */
#define MAX_EMAIL_LEN		254	/* RFC 5321 */
#define MAX_SFTP_REQUESTS	64	/* SFTP requests in flight per stream */
#define SFTP_STREAMS_MAX	8	/* SFTP channels one transfer uses */
#define SFTP_WINDOW_MAX		(8 * 1024 * 1024) /* in flight on one, at most */
#define SFTP_REPLY_MAX		(256 * 1024) /* an SFTP reply other than data */
#define SFTP_HANDLE_MAX		256	/* bytes in an SFTP file handle */
#define SFTP_READ_MIN		1024	/* a server's read limit taken, at least */
#define PAUSE_MAX_SECONDS	60	/* a test's pause point waits, at most */
#define DIRPAGE_CHARS		2	/* an email page: its first characters */
#define MTIME_AHEAD_MAX		60	/* a local file's mtime ahead of our
					 * clock by more: settled as on SFTP */

/* Exit codes, documented in README.md and rostersync(8). */
#define EXIT_OK			0	/* every run Success/Approved, or nothing to do */
#define EXIT_FAIL		1	/* a run Failed (system error), or a command failed */
#define EXIT_USAGE		2	/* bad command line */
#define EXIT_CONFIG		3	/* the configuration is invalid */
#define EXIT_DATA		4	/* a run ended Data Load Failed */
#define EXIT_HELD		5	/* a run is Above Deactivation Threshold or Pending approval */
#define EXIT_ATTENTION		6	/* a run ended Needs Attention */
#define EXIT_BUSY		7	/* another run holds the spool lock */

/* ---------------------------------------------------------------- util.c */

/* Growable byte buffer; always NUL-terminated after the first append. */
struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_grow(struct buf *, size_t more);	/* room for more and a NUL */
void	 buf_adds(struct buf *, const char *);
void	 buf_addc(struct buf *, int);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);

/* Bump allocator: many small strings freed at once. */
struct arena {
	struct arena_blk *blk;
	size_t	 used;		/* bytes handed out, for statistics */
};
void	*arena_alloc(struct arena *, size_t);
char	*arena_strndup(struct arena *, const char *, size_t); /* the arena's */
void	 arena_free(struct arena *);

/* Out of memory is fatal at once (the first error level). */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);	/* these three: the caller frees */
char	*xstrndup(const char *, size_t);
/* Big arrays read at random: mappings of their own (huge pages where
 * granted), zero where not written; big_free() them (NULL is fine). */
void	*big_alloc(size_t);
void	*big_calloc(size_t, size_t);
void	*big_realloc(void *, size_t used, size_t);
void	 big_free(void *);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

uint64_t hash64(const void *, size_t, uint64_t seed);
/* Two 64-bit hashes of one text, made independently in one pass. */
void	 hash128(const void *, size_t, uint64_t seed, uint64_t out[2]);
uint64_t hash_seed(void);	/* random per process, for untrusted text */
int	 write_full(int fd, const void *, size_t);	/* 0, or -1 (errno) */

/* Open-addressing map from a string to a uint32_t; keys are not copied. */
#define STRMAP_NONE	UINT32_MAX
struct strmap {
	struct strmap_ent *e;
	size_t	 cap;		/* a power of two */
	size_t	 n;
};
uint32_t strmap_get(const struct strmap *, const char *, size_t);
/* Insert a key that is not there yet; it must outlive the map. */
void	 strmap_put(struct strmap *, const char *, size_t, uint32_t);
void	 strmap_reserve(struct strmap *, size_t n);	/* room for n keys */
/* Hints for a loop over keys; a peek's value may be another key's. */
void	 strmap_prefetch(const struct strmap *, const char *, size_t);
uint32_t strmap_peek(const struct strmap *, const char *, size_t);
/* The same with the key's hash made before (on another thread, say):
 * strmap_keyhash() once hash_seed() has been called. */
uint64_t strmap_keyhash(const char *, size_t);
uint32_t strmap_get_h(const struct strmap *, const char *, size_t, uint64_t);
void	 strmap_prefetch_h(const struct strmap *, size_t, uint64_t);
uint32_t strmap_peek_h(const struct strmap *, size_t, uint64_t);
void	 strmap_free(struct strmap *);

/* JSON text: a string escaped into b, and a flat {"k":"v"} object read. */
void	 json_str(struct buf *b, const char *, size_t);
/* The same at o, which has room for 6 * n + 2 bytes; returns the end. */
char	*json_put(char *o, const char *, size_t n);
/* A member ,"k":"v" (null for NULL), with no comma after '{' or '['; a
 * time as UTC ISO 8601 (null for 0). */
void	 json_kv(struct buf *, const char *k, const char *v);
void	 json_time(struct buf *, const char *k, time_t);
int	 json_flat_each(const char *,
	    void (*)(void *, const char *k, const char *v, size_t vlen), void *);
int	 utf8_valid(const char *, size_t);
size_t	 utf8_span(const char *, size_t);	/* its valid prefix */
/*
 * Email addresses: kept in lower case and compared with full Unicode case
 * folding (libunistring, NFC), so "Ü1@EXAMPLE.COM" is "ü1@example.com".
 * email_lower() and email_fold() write into b and return its text, with
 * its length in *outn (ASCII keeps its length; other text may not).
 */
const char *email_lower(struct buf *b, const char *, size_t, size_t *outn);
const char *email_fold(struct buf *b, const char *, size_t, size_t *outn);
int	 email_same(const char *, size_t, const char *, size_t);
/* "2026-11-24T22:26:39Z" for t (UTC); out must hold 21 bytes. */
void	 time_iso(time_t t, char out[21]);
time_t	 time_parse_iso(const char *);	/* (time_t)-1 when not a time */
int64_t	 now_ms(void);
/* Parse a whole decimal number in [min, max]; -1 if it is not one. */
int	 parse_ll(const char *, long long min, long long max, long long *out);
/* Tests: SIGKILL here when ROSTERSYNC_FAULT names this point; wait here
 * while ROSTERSYNC_PAUSE_FILE exists when ROSTERSYNC_PAUSE names it (and
 * ROSTERSYNC_PAUSE2_FILE, ROSTERSYNC_PAUSE2: a second point). */
void	 fault(const char *point);
/*
 * A helper thread, which takes no signals (the main thread handles them);
 * pthread_create()'s result. Every one is a speed-up with a fallback on
 * the calling thread, which ROSTERSYNC_SERIAL=NAME[,NAME...] or "all"
 * chooses instead (tests compare the outcomes, the bench the times).
 */
int	 thread_start(const char *name, pthread_t *, void *(*fn)(void *),
	    void *arg);
void	 thread_background(void);	/* give way to the other threads */

/* ------------------------------------------------------------- table.c */

/* A column of a text table: cells padded or cut ("…") to its width. */
#define MAX_TABLE_COLS	16
struct tcol {
	const char	*title;
	int		 width;		/* display columns */
	int		 flags;
};
#define TC_RIGHT	0x1		/* aligned right (numbers) */
#define TC_FULL		0x2		/* never cut (an id, an email) */
int	 text_width(const char *);	/* columns a terminal shows */
void	 text_cell(struct buf *, const char *, int width, int full, int right);
/* s into b with each control character and byte that is not UTF-8 as
 * U+FFFD (a cell's text); with lines, newlines kept. */
void	 text_safe(struct buf *, const char *, int lines);
/* printf(3) to standard output through text_safe(), newlines kept. */
void	 text_printf(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 table_head(const struct tcol *, size_t);
void	 table_row(const struct tcol *, size_t, const char *const *cell);

/* ---------------------------------------------------------- progress.c */

#define PROGRESS_EVERY	5	/* seconds between two lines of a phase */
#define PROGRESS_BATCH	8192	/* rows counted at once while loading */
/* A long phase's progress, printed beside the work every PROGRESS_EVERY
 * seconds (none for a phase shorter than that); total -1: not known. */
void	 progress_begin(const char *what, long long total);
void	 progress_add(long long);
void	 progress_end(void);	/* then nothing prints until the next */

/* ------------------------------------------------------------ sha256.c */

/* OpenSSL's SHA-256 (EVP): init, update, final (which frees it), or
 * sha256_free() for a digest given up. */
struct sha256 {
	struct evp_md_ctx_st	*ctx;
};
void	 sha256_init(struct sha256 *);
void	 sha256_update(struct sha256 *, const void *, size_t);
void	 sha256_final(struct sha256 *, unsigned char out[32]);
void	 sha256_free(struct sha256 *);
void	 sha256_hex(const unsigned char in[32], char out[65]);

/* --------------------------------------------------------------- json.c */

/* A JSON value read from another program's line (json.c). */
#define JSON_MAX_DEPTH		16	/* arrays and objects inside each other */
#define JSON_MAX_NODES		100000	/* values in one text */
enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };
struct jval {
	enum jtype	 type;
	const char	*key;		/* its key, inside an object */
	const char	*str;		/* J_STR decoded, J_NUM as written */
	size_t		 len;		/* of str */
	const char	*raw;		/* the value's text in the input */
	size_t		 rawlen;
	struct jval	*child;		/* J_ARR, J_OBJ: the first element */
	struct jval	*next;		/* the next sibling */
	size_t		 n;		/* J_ARR, J_OBJ: elements */
};
struct jval	*json_parse(const char *, size_t, struct arena *, char *err,
		    size_t errlen);
const struct jval *json_get(const struct jval *obj, const char *key);
const char	*json_get_str(const struct jval *obj, const char *key);
int		 json_int(const struct jval *, long long min, long long max,
		    long long *out);

/* ---------------------------------------------------------------- log.c */

enum loglevel { LOG_ERR = 3, LOG_WARNING = 4, LOG_NOTICE = 5, LOG_INFO = 6,
	LOG_DEBUG = 7 };
void	 log_init(int verbosity);	/* -1 quiet, 0 normal, 1 verbose */
/* Every line from now on carries "run N sync S"; run 0 / NULL clears it. */
void	 log_context(long long run, const char *sync);
void	 log_msg(enum loglevel, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_warn(const char *, ...)	/* appends strerror(errno) */
	    __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* A copy of every line also goes here while set (the run log). */
void	 log_tee(FILE *);
/*
 * Advice on the error a module is about to return ("ask the server's
 * administrator ..."), for whoever logs that error: log_hint() keeps it,
 * log_hint_take() hands it over into out ("" when none; out may be NULL
 * to drop it) and forgets it.
 */
void	 log_hint(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_hint_take(char *out, size_t outlen);
/* A progress line: shown like log_info(), never in the run log. */
void	 log_progress(const char *, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------- config.c */

/* The canonical fields a mapping may name; anything else is an attribute. */
enum canon {
	F_EMPLOYEE_ID, F_EMAIL, F_FIRST_NAME, F_LAST_NAME, F_DISPLAY_NAME,
	F_MANAGER_ID, F_DEPARTMENT, F_TITLE, F_LOCATION, F_EMPLOYMENT_STATUS,
	F_START_DATE, F_END_DATE, F__COUNT
};
extern const char *const canon_names[F__COUNT];
int	 canon_lookup(const char *);	/* enum canon, or -1 */

enum fmt	{ FMT_AUTO, FMT_CSV, FMT_XLSX };
enum after	{ AFTER_MOVE, AFTER_DELETE, AFTER_LEAVE };
enum delmode	{ DEL_DEACTIVATE, DEL_DELETE };
enum onthr	{ ONTHR_HOLD_ALL, ONTHR_HOLD_DELETES };
enum approval	{ APPROVE_NEVER, APPROVE_ABOVE, APPROVE_ALWAYS };

/* One field of a sync: where it comes from and how it is treated. */
struct slot {
	char	*name;		/* canonical field or attribute name */
	char	*column;	/* HR header it is read from */
	int	 canon;		/* enum canon, or -1 for an attribute */
	int	 key;		/* part of the key (position + 1), or 0 */
	int	 required;	/* an empty value skips the row */
	int	 keep_empty;	/* an empty value keeps the directory's value */
};

/* The apply hook: run with execve for every item, or once per run and
 * fed items as JSON lines (stream mode, hook_stream.c). */
enum hookmode	{ HOOK_EXEC, HOOK_STREAM };
#define HOOK_WINDOW_MAX		1024	/* stream: items in flight at most */
#define HOOK_LINE_MAX		(1024 * 1024) /* stream: one answer line */
#define HOOK_STARTS		3	/* stream: program starts per run */
#define HOOK_LOOKAHEAD		256	/* stream: items loaded ahead, that
					 * may pass one that waits */
#define HOOK_DRAIN_MAX		(1024 * 1024) /* a pipe read once the hook
					 * has exited, at most */
#define HOOK_REAP_MS		50	/* its exit looked for this often
					 * where the kernel has no pidfd */
struct hook {
	char	**argv;		/* argv[0] is an absolute path; NULL-terminated */
	int	 timeout;	/* seconds per item (stream: for an answer) */
	enum hookmode mode;	/* default HOOK_EXEC */
	int	 window;	/* stream: items in flight, default 64 */
	char	*name;		/* a label for views; default argv[0]'s name */
};

/* The SFTP side of a source (fetch_sftp.c). */
struct sftpopt {
	char	*known_hosts;	/* required for sftp:// sources */
	char	*identity;	/* private key file */
	char	*passphrase_file; /* optional, mode 0600 */
	char	*password_file;	/* optional, mode 0600, instead of a key */
	int	 accept_new_host_key; /* trust an unknown key once */
	int	 timeout;	/* seconds, connect and each I/O */
	int	 retries;	/* attempts on transient failures */
	int	 read_size;	/* bytes asked for by one read request */
	int	 read_requests;	/* read requests in flight per stream */
	int	 write_size;	/* bytes in one write request */
	int	 write_requests; /* write requests in flight per stream */
	int	 streams;	/* SFTP channels a transfer may use */
};

/* One named sync: a source of exports and what to do with them. */
struct sync {
	char		*name;
	int		 line;		/* where it starts in the config */
	int		 enabled;
	char		*source;	/* "dir:/path" or "sftp://user@host:port/path" */
	char		*pattern;	/* fnmatch(3) glob on file names */
	enum fmt	 format;
	char		*sheet;		/* XLSX sheet name, NULL: first visible */
	char		*encoding;	/* CSV: NULL ("auto"), "utf-8", iconv's */
	int		 settle_seconds;
	int		 use_marker;	/* wait for NAME.done instead of settling */
	enum after	 after;		/* what becomes of the source file */
	char		*processed_dir;	/* for AFTER_MOVE, relative to the source */
	char		*reports_remote; /* where reports are published, or NULL */

	struct slot	*slots;		/* from "mapping"; NULL: from the header */
	size_t		 nslots;
	char		**keys;		/* key field names, in order */
	size_t		 nkeys;
	char		**required;	/* required field names */
	size_t		 nrequired;
	char		**keep_empty;	/* fields where empty keeps the old value */
	size_t		 nkeep_empty;
	char		**ignore;	/* header columns neither stored nor diffed */
	size_t		 nignore;

	char		*terminated_field; /* default "employment_status" */
	char		**terminated_values; /* compared case-insensitively */
	size_t		 nterminated_values;
	char		*team_field;	/* default "department"; NULL: no teams */

	long long	 max_deletes;	/* default 500 */
	double		 max_delete_percent; /* of active users, default 20 */
	double		 max_update_percent; /* of active users, default 25 */
	enum onthr	 on_threshold;
	enum approval	 approval;
	long long	 seat_limit;	/* 0: none */
	enum delmode	 delete_mode;
	int		 grace_days;	/* deactivated users kept, default 30 */

	int		 keep_reports_days; /* 0: forever */
	int		 keep_inputs_days;  /* 0: forever */

	struct hook	 hook;		/* argv NULL: no hook */
	struct sftpopt	 sftp;
};

struct config {
	char		*path;		/* the file it was read from */
	char		*database;	/* absolute */
	char		*spool;		/* absolute */
	char		*timezone;	/* TZ name for report file names */
	char		*schedule;	/* OnCalendar= expression of the timer */
	int		 lock_wait;	/* seconds a second run waits, Queued */
	struct sync	*syncs;
	size_t		 nsyncs;
};

/* Messages "FILE:LINE: text", one per problem found. */
struct errlist {
	char	**msg;
	size_t	 n;
};
void	 errlist_add(struct errlist *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 errlist_free(struct errlist *);

/*
 * Read and check a configuration. Relative paths in it are made absolute
 * against the directory of the file. Returns 0, or -1 with every problem
 * found in errs (which the caller frees). The config must be freed with
 * config_free() either way.
 */
int	 config_load(const char *path, struct config *, struct errlist *errs);
void	 config_free(struct config *);
struct sync *config_sync(struct config *, const char *name);

/* --------------------------------------------------- load.c and formats */

/* Per-field flags a format may set on a raw row. */
#define FF_TRUNC	0x01	/* longer than MAX_FIELD_LEN; cut there */
#define FF_ERROR	0x02	/* a spreadsheet error value such as #N/A */
#define FF_BADUTF8	0x04	/* not UTF-8 (set when utf8_checked) */
#define FF_NOCALC	0x08	/* empty: a formula never calculated */
#define FF_BADDATE	0x10	/* a date cell whose text is not a date */

/* One row as a format read it; valid only during the callback. */
struct rawrow {
	size_t			 row;	/* spreadsheet row: the header is 1 */
	size_t			 nf;	/* fields, at most MAX_COLUMNS */
	const char *const	*f;	/* values, NUL-terminated, untrimmed */
	const size_t		*len;	/* their lengths in bytes */
	const unsigned char	*ff;	/* FF_* per field */
	int			 wide;	/* non-empty fields past MAX_COLUMNS dropped */
	int			 noeol;	/* the file ended in this row, no line break */
	int			 utf8_checked; /* ff has FF_BADUTF8 where due */
	const struct rawhint	*hint;	/* the known-lines fast path's
					 * (known.h), or NULL */
	int			 delim;	/* CSV: the delimiter, else 0 */
};
/* Return 0 to go on, non-zero to stop the load (the loader returns 1). */
typedef int (*rawrow_fn)(void *arg, const struct rawrow *);

/*
 * A CSV file's encoding: one decision for the whole file, never row by
 * row. want is the sync's `encoding`: "auto" (or NULL), "utf-8", or a
 * name iconv(3) knows. auto: a byte-order mark decides (UTF-8, UTF-16),
 * else valid UTF-8 is UTF-8; a byte that is not stops the load with
 * LOAD_NOT_UTF8, and the caller loads the file again as Windows-1252
 * (fallback set). That load fails a file that also holds whole UTF-8
 * characters beyond ASCII (or a UTF-8 mark): it mixes two encodings
 * (mixed). An explicit encoding the bytes do not fit fails the file,
 * naming the row and the byte offset.
 */
#define LOAD_NOT_UTF8	2		/* auto: load it again as Windows-1252 */
#define ENC_FALLBACK	"windows-1252"	/* what Excel's plain CSV save writes */
struct textenc {
	const char		*want;		/* in */
	int			 fallback;	/* in: the second load of auto */
	char			 used[32];	/* out: "UTF-8", "UTF-16LE", ... */
	unsigned long long	 bad_off;	/* out: the first byte not UTF-8 */
	size_t			 bad_row;	/* and its row */
	unsigned long long	 utf8_off;	/* fallback, out: the first UTF-8
						 * character beyond ASCII */
	size_t			 utf8_row;	/* and its row (1: the mark) */
	int			 mixed;		/* out: both: the load failed */
};
int	 enc_is_auto(const char *want);
int	 enc_is_utf8(const char *want);

/*
 * The formats: read path and call fn for every row, the header first.
 * Return 0 at the end of the file, 1 when fn stopped it, LOAD_NOT_UTF8
 * (CSV, encoding auto), or -1 when the file cannot be read as a whole,
 * with the cause in err (without the file name, which the caller adds).
 * enc may be NULL (auto).
 */
int	 load_csv(const char *path, rawrow_fn fn, void *arg, char *err,
	    size_t errlen);
/* The same with an encoding (known.h has the one with the fast path). */
int	 load_csv_enc(const char *path, rawrow_fn fn, void *arg,
	    struct textenc *enc, char *err, size_t errlen);
/* 0: every byte through libcsv (tests and the fuzzer compare the two). */
extern int	 load_csv_plain_lines;
int	 load_xlsx(const char *path, const char *sheet, rawrow_fn fn, void *arg,
	    char *err, size_t errlen);
/* A worksheet of at least this many bytes is parsed on a thread of its
 * own (4 MB; tests and the fuzzer compare with 1, a thread for every
 * sheet). */
extern size_t	 xlsx_thread_min;
/* 0: the worksheet through expat alone, not the tokenizer first (tests
 * and the fuzzer compare the two); rows the tokenizer gave, all loads;
 * rows given to fn while a thread of their own parsed the sheet. */
extern int	 xlsx_fast_sheet;
extern unsigned long long xlsx_fast_rows;
extern unsigned long long xlsx_piped_rows;
/* The worksheets of a workbook, for a load failure's hint (load.c). */
struct xlsx_book {
	char	**name;		/* each worksheet's name, in the book's order */
	int	 *hidden;	/* and whether it is hidden */
	size_t	  n;
	size_t	  read;		/* the one load_xlsx() reads for the sheet
				 * asked for (NULL: the first visible); n if
				 * none */
};
/* 0, or -1 with the cause in err; free with xlsx_book_free() either way. */
int	 xlsx_book_sheets(const char *path, const char *sheet,
	    struct xlsx_book *, char *err, size_t errlen);
void	 xlsx_book_free(struct xlsx_book *);
/* Other sheets whose header load.c reads for that hint, at most. */
#define MAX_SHEET_PROBES	16
/* A key or manager id in a spreadsheet's scientific notation fails the
 * file (load.c): "1.23457E+15", with at most */
#define SCI_DIGITS		15	/* significant digits (Excel's) */
#define SCI_EXP_DIGITS		3	/* digits of exponent (E+308) */

/*
 * xmltok.c: the worksheet's few shapes of XML, read ahead of expat. The
 * callbacks return 0, XT_STOP (stop here), or, start and text only,
 * XT_HAND before changing anything (expat takes over at this token).
 */
#define XT_MAXDEPTH	64	/* open elements; deeper: expat's */
#define XT_MAXNAME	64	/* bytes of an element's name, the NUL too */
#define XT_MAXATTR	32	/* attributes of one tag */
#define XT_MAXREF	8	/* digits of a character reference */
#define XT_STOP		1	/* a callback asked to stop */
#define XT_HAND		2	/* expat's from xtok_handoff() on */
#define XT_MORE		3	/* (inside xmltok.c: a token not whole yet) */
struct xtok;
struct xtok_cb {
	int	(*start)(void *arg, const char *name, const char **attr);
	int	(*end)(void *arg);
	int	(*text)(void *arg, const char *s, size_t len);
};
/* Must be freed with xtok_free(). */
struct xtok	*xtok_new(const struct xtok_cb *, void *arg, size_t maxtok);
void		 xtok_free(struct xtok *);
void		*xtok_buffer(struct xtok *, size_t n);
int		 xtok_parse(struct xtok *, size_t n, int final);
unsigned long long xtok_handoff(const struct xtok *);

/* The field layout of one load: the sync's slots, or the header's. */
struct schema {
	struct slot	*slots;
	size_t		 nslots;
	int		 col[MAX_SLOTS];   /* header column of each slot */
	int		 keyslot[MAX_KEY_FIELDS]; /* slots of the key, in order */
	size_t		 nkey;
	int		 canon[F__COUNT];  /* slot of each canonical field, -1 */
	int		 term_slot;	/* terminated_field, or -1 */
	int		 team_slot;	/* team_field, or -1 */
	int		 owned;		/* slots built from the header: freed */
};

/* One data row mapped to the schema; valid only during the callback. */
struct record {
	size_t		 row;		/* spreadsheet row number */
	const char	*key;		/* key fields joined with "/" */
	size_t		 keylen;
	const char	**v;		/* trimmed value per slot; email lower-cased */
	size_t		*len;
	unsigned	 bad;		/* REC_* problems the loader saw */
	int		 bad_slot;	/* the slot of the first problem, or -1 */
	size_t		 nvals;		/* REC_SHORT: the values the row has, */
	size_t		 ncols;		/* and the header's named columns */
	const struct rowhint *hint;	/* the known-lines fast path's (known.h):
					 * never NULL; a known line has no key
					 * nor values (v, len NULL) */
};
#define REC_UTF8	0x01	/* invalid UTF-8 in a value */
#define REC_TOOLONG	0x02	/* a value longer than MAX_FIELD_LEN */
#define REC_WIDE	0x04	/* non-empty fields past the header */
#define REC_CELLERR	0x08	/* a spreadsheet error value (#N/A, ...) */
#define REC_BADDATE	0x10	/* a date cell that is not a date */
#define REC_SHORT	0x20	/* CSV: fewer values than the header */
#define REC_NOCALC	0x40	/* a formula with no saved value */
typedef int (*record_fn)(void *arg, const struct record *);

struct loadstat {
	enum fmt	 format;	/* what the content was */
	size_t		 rows;		/* data rows read (blank ones not counted) */
	size_t		 columns;	/* header columns */
	size_t		 known;		/* rows that were known lines */
};

/*
 * Load an input for a sync (name is what messages call it). Fills
 * schema (free with schema_free()) and calls fn for each non-blank data
 * row. Returns 0, or -1 with a message naming the file and the cause in
 * err: the run is Data Load Failed; or LOAD_NOT_UTF8 (enc->want auto):
 * the rows given to fn are void, and the file is to be loaded again with
 * enc->want ENC_FALLBACK. enc (CSV; not for XLSX) tells what was read.
 */
int	 load_file(const char *path, const char *name, const struct sync *,
	    struct textenc *enc, struct schema *, struct loadstat *,
	    struct known *, record_fn fn, void *arg, char *err,
	    size_t errlen);
void	 schema_free(struct schema *);
enum fmt load_sniff(const char *path);	/* FMT_XLSX for a ZIP, else FMT_CSV */


/* ------------------------------------------------------------- spool.c */

/*
 * The spool: incoming/SYNC (fetched, not yet processed), archive/SYNC
 * (loaded), failed/SYNC (not loadable), reports/SYNC, and the lock.
 * Every move is an fsync'd rename inside the spool's file system.
 */
char	*spool_path(const struct config *, const char *kind, const char *sync,
	    const char *name);		/* caller frees; dirs made 0750 */
int	 spool_lock(const struct config *, int wait_seconds);	/* fd or -1 */
int	 spool_move(const char *from, const char *to);
char	*dir_of(const char *path);	/* the caller frees */
int	 fsync_dir_of(const char *path);
int	 name_ok(const char *name, char *why, size_t whylen);
int	 name_ignored(const char *name);	/* dot, .part, .tmp, ... */
void	 spool_expire(const struct config *, const struct sync *);

/* ------------------------------------------------------------- fetch.c */

struct source;
struct srcfile {
	char		*name;
	long long	 size;
	long long	 mtime;
	const char	*special;	/* not a regular file: "a symbolic
					 * link"...; NULL for a regular one */
};
/* get(): the copy is not the file HR finished writing; thrown away. */
#define SRC_CHANGED	1
/* A source backend (fetch_dir.c, fetch_sftp.c): chosen by URL scheme. */
struct srcops {
	const char	*prefix;	/* "dir:", "sftp://" */
	struct source	*(*open)(const struct sync *, char *err, size_t);
	int		 (*list)(struct source *, struct srcfile **, size_t *,
			    char *err, size_t);
	int		 (*exists)(struct source *, const char *name);
	/*
	 * Copy f->name into fd, hashing it, if it is still the file listed
	 * (f->size and f->mtime; f->size -1: not listed) and nothing changes
	 * it from open to the last byte. 0; SRC_CHANGED with err saying how
	 * and f set to what the source holds now (size -1: nothing); -1 with
	 * err on failure.
	 */
	int		 (*get)(struct source *, struct srcfile *f, int fd,
			    struct sha256 *, long long *size, char *err,
			    size_t);
	int		 (*after)(struct source *, const char *name,
			    enum after, const char *dir, char *err, size_t);
	/* Upload a local file as dir/name (via dir/name.part, renamed). */
	int		 (*put)(struct source *, const char *local,
			    const char *dir, const char *name, char *err,
			    size_t);
	/* May a connection opened earlier still be used? NULL: always. */
	int		 (*alive)(struct source *);
	void		 (*close)(struct source *);
};
extern const struct srcops srcops_dir;
extern const struct srcops srcops_sftp;

/* Why a fetch failed: the first error and what to do about it. */
struct fetchfail {
	char	 error[MAX_ERRMSG];
	char	 hint[MAX_HINT];	/* "" when there is no advice */
};
/* Fetch a sync's new settled files into the spool: how many, or -1 when
 * the source failed (ff says why; every error is logged once). */
int	 fetch_sync(struct config *, struct store *, const struct sync *,
	    struct fetchfail *ff);
/* Copy a local file into the spool for run --file; ledger id or -1. */
long long fetch_local(struct config *, struct store *, const struct sync *,
	    const char *path, int again);
/* publish.c: a run's report files to the sync's reports_remote folder. */
void	 publish_run(struct config *, struct store *, const struct sync *,
	    long long run);
/* Uploads that failed before are tried again. */
void	 publish_pending(struct config *, struct store *);
/* The source backend of a sync (fetch.c), or NULL, logged. */
const struct srcops *fetch_ops(const struct sync *);
/*
 * A sync's source for one use (fetch.c): between source_keep_begin() and
 * source_keep_end() (a run), each sync's connection is kept from one use
 * to the next, checked before it is used again.
 */
#define SOURCE_IDLE_MAX		60	/* seconds a kept connection may idle */
void	 source_keep_begin(void);
void	 source_keep_end(void);
struct source *source_open(const struct sync *, const struct srcops *,
	    char *err, size_t);
void	 source_close(const struct sync *, const struct srcops *,
	    struct source *);
/* The source file is done with: move, delete or leave it (ledger id). */
void	 fetch_after(struct config *, struct store *, const struct sync *,
	    long long file_id);

/* -------------------------------------------------------- sftp_xfer.c */

/*
 * File data over several SFTP channels ("streams") of one SSH
 * connection, each with requests for disjoint ranges in flight, for
 * fetch_sftp.c. step(arg) is called before each wait on the server (the
 * caller's watchdog). xfer_get() and xfer_put() return 0, -1 with err
 * ("doing PATH: why"), XFER_STOP (a callback stopped it: the caller
 * knows why), XFER_CHANGED (the handles on the file disagree: err, and
 * path_end the other one) or XFER_NONE (the server opens no channel
 * besides the caller's SFTP session: the caller transfers on that).
 */
#define XFER_STOP	1
#define XFER_CHANGED	2
#define XFER_NONE	3
struct ssh_session_struct;
struct xfer;
/* A remote file's size and mtime: -1 when not a regular file, or gone. */
struct xattr {
	long long	 size;
	long long	 mtime;
};
/* A download: its callbacks (0 to go on), what it found. */
struct xget {
	int		(*opened)(void *, const struct xattr *);
	int		(*data)(void *, const void *, size_t);	/* in order */
	int		(*last)(void *);	/* after the last byte */
	void		*arg;
	long long	 size_hint;	/* as listed: how many streams */
	long long	 copied;	/* bytes handed to data() */
	int		 streams;	/* used */
	struct xattr	 at_end;	/* the open file's, after the last byte */
	struct xattr	 path_end;	/* the path's then (lstat) */
};
/* Free with xfer_free(), before the session. */
struct xfer *xfer_new(struct ssh_session_struct *, const struct sftpopt *,
	    void (*step)(void *), void *arg);
void	 xfer_free(struct xfer *);
int	 xfer_get(struct xfer *, const char *path, struct xget *, char *err,
	    size_t errlen);
/* size bytes of fd to path (created 0640 or truncated), its size then
 * checked; *streams: how many were used. */
int	 xfer_put(struct xfer *, int fd, long long size, const char *path,
	    int *streams, char *err, size_t errlen);

/* ------------------------------------------------------ runs and items */

enum runstatus {
	RS_QUEUED, RS_IN_PROGRESS, RS_PENDING, RS_SUCCESS, RS_ATTENTION,
	RS_LOADFAIL, RS_THRESHOLD, RS_UPD_THRESHOLD, RS_APPROVED, RS_REJECTED,
	RS_CANCELLED, RS_FAILED, RS__COUNT
};
enum itemtype {
	IT_CREATE, IT_UPDATE, IT_MANAGER, IT_DELETE, IT_TEAM_CREATE,
	IT_TEAM_DELETE, IT_TEAM_MEMBER, IT__COUNT
};
enum itemstatus {
	IST_APPLIED, IST_HELD, IST_PREVIEW, IST_PENDING, IST_FAILED,
	IST_CONFIRMED, IST__COUNT
};
enum issuetype {
	ISS_USER_SKIPPED, ISS_MANAGER_NOT_FOUND, ISS_MANAGER_CYCLE,
	ISS_SEAT_LIMIT, ISS_ID_CHANGED, ISS__COUNT
};
/* Who decided a run's fate, beside the pipeline (run.decision). */
enum decision {
	DEC_NONE, DEC_APPROVE, DEC_REJECT, DEC_CANCEL, DEC_OVERRIDE,
	DEC_SUPERSEDE, DEC__COUNT
};

/* Names: slug (stored, used on the command line) and label (shown). */
const char	*runstatus_slug(enum runstatus);
const char	*runstatus_label(enum runstatus);
int		 runstatus_parse(const char *);	/* slug or label; -1 */
const char	*itemtype_slug(enum itemtype);
const char	*itemtype_label(enum itemtype);
int		 itemtype_parse(const char *);
const char	*itemstatus_slug(enum itemstatus);
int		 itemstatus_parse(const char *);
const char	*issuetype_slug(enum issuetype);
const char	*issuetype_label(enum issuetype);
int		 issuetype_parse(const char *);
int		 runstatus_exit(enum runstatus);	/* EXIT_* for a run */
int		 runstatus_above(enum runstatus);	/* a threshold held it */
/* log.c: the run's status from now on (the journal's STATUS= field);
 * cleared by log_context(). */
void		 log_status(enum runstatus);
const char	*decision_slug(enum decision);	/* "approve", ... */
const char	*decision_label(enum decision);	/* "Approved", ... */
int		 decision_parse(const char *);	/* slug; DEC_NONE if not */

/* One run: one input file of one sync through the pipeline. */
struct run {
	long long	 id;
	char		*sync;
	char		*trigger;	/* timer, manual, retry, approval */
	enum runstatus	 status;
	char		*source;	/* the sync's source URL */
	char		*file_name;	/* as it was dropped */
	char		 sha256[65];	/* of the input, "" when none */
	long long	 size;		/* input bytes */
	long long	 rows;		/* data rows read */
	long long	 file_id;	/* ledger entry, 0 when none */
	time_t		 started;
	time_t		 finished;
	long long	 duration_ms;
	long long	 count[IT__COUNT];  /* items of each type */
	long long	 issues[ISS__COUNT]; /* issues of each type */
	long long	 skipped;	/* rows not applied */
	long long	 impacted;	/* distinct users with an item or issue */
	long long	 active_before;	/* active users before the run */
	int		 tripped;	/* TRIP_* of the thresholds tripped */
	long long	 max_deletes;	/* thresholds in force */
	double		 max_delete_percent;
	double		 max_update_percent;
	long long	 allow_deletes;	/* one-time overrides, -1 none */
	long long	 allow_updates;
	long long	 allow_id_changes;
	int		 dry_run;
	long long	 base_version;	/* directory version diffed against */
	char		*error;		/* why it failed, or NULL */
	char		*report_base;	/* "Sync Logs - 15 Jan 2024 10.30pm" */
	char		*approver;	/* who decided (decided_by in JSON) */
	char		*reason;	/* why, as they said it */
	long long	 parent_run;	/* a retry: the run it retries */
	time_t		 decided_at;	/* when they decided */
	enum decision	 decision;	/* what they decided, DEC_NONE */
	char		*hint;		/* a failure: what to do about it */
	long long	 failures;	/* a source failure: times in a row */
	char		*preview_base;	/* an approved run: its preview report */
	time_t		 recovered_at;	/* a source failure: when it answered */
	char		*encoding;	/* a CSV input read as, or NULL */
	char		*encoding_note;	/* why, when not as it said */
	/* Filled by store_run_outcome() only (views, reports): per type,
	 * items applied (or confirmed) and items failed. */
	int		 have_outcome;
	long long	 applied[IT__COUNT];
	long long	 failed[IT__COUNT];
	long long	 confirmed;	/* of those applied, done by hand */
};
#define TRIP_DELETES	0x1	/* more deletions than the threshold */
#define TRIP_UPDATES	0x2	/* more changed values than it */

/* ------------------------------------------------------------- the store */

/*
 * The store: one SQLite file (store.c and store_*.c, which share the
 * private store_int.h; nothing else speaks SQL). Its prototypes by file:
 * store.c the connection and transactions, store_io.c the I/O tuning,
 * store_dir.c the directory and its counts, store_run.c the records of
 * runs, store_query.c what the views and the history read.
 */
struct store;
/* SQLite's page cache of the run's connection; and during one big
 * transaction (store_begin_big()), whose pages go out as it writes them
 * in key order (docs/design.md, Memory). */
#define STORE_CACHE_KB		65536
#define STORE_BIG_CACHE_KB	24576
/* and during a first load's (store_bulk_begin()): its sorts' memory too */
#define STORE_BULK_CACHE_KB	8192
/* The page size of a new database: a day's changes are users scattered
 * over the whole table, a page written (twice: WAL, checkpoint) for each
 * (docs/design.md, Writes). A database keeps the size it was made with. */
#define STORE_PAGE_SIZE		2048
/* and while the diff reads the stored rows of the users who changed or
 * left, in key order (neighbours share pages: what it keeps is the few
 * interior pages; SQLite's default size) */
#define STORE_DIFF_CACHE_KB	2048

/* store.c: the connection, transactions, read snapshots. */
/*
 * Open (creating and migrating) the database; readonly opens it for the
 * views. Returns NULL with a message in err; store_close() it.
 */
struct store	*store_open(const char *path, int readonly, char *err,
		    size_t errlen);
void		 store_close(struct store *);	/* NULL is fine */
/* The last error the store met: SQLite's, or a lock held too long. */
const char	*store_errmsg(struct store *);
/* 0 if the run can write now, or -1 (store_errmsg()): nothing logged. */
int		 store_can_write(struct store *);
int		 store_begin(struct store *);	/* BEGIN IMMEDIATE */
int		 store_commit(struct store *);
void		 store_rollback(struct store *);
int		 store_integrity(struct store *, char *out, size_t outlen);
/* One snapshot for several statements (BEGIN ... COMMIT, read-only). */
int		 store_read_begin(struct store *);
void		 store_read_end(struct store *);
/* SQLite's page cache of the connection, kb kilobytes at most. */
void		 store_cache_size(struct store *, int kb);

/* store_io.c: the I/O tuning. */
int		 store_begin_big(struct store *); /* a cache of its own */
void		 store_journal_rollback(struct store *);	/* first loads */
void		 store_journal_wal(struct store *);
int		 store_bulk_begin(struct store *);	/* indexes dropped */
int		 store_bulk_end(struct store *);	/* and built again */

/* store_dir.c: the directory, its version and its counts. */
/* One user as the directory stores it. */
struct dirrow {
	const char	*sync;
	const char	*key;
	const char	*email;
	const char	*name;		/* display name */
	const char	*manager;	/* manager's key */
	const char	*team;
	uint64_t	 hash;		/* fingerprint of fields */
	const char	*fields;	/* every field as a JSON object */
	size_t		 fieldslen;
	long long	 run;
	int		 email_same;	/* the stored email is this one already */
	int		 active_same;	/* stored and active: its state stays */
	int		 stored;	/* the key is in the directory (a hint) */
};
long long	 store_sync_version(struct store *, const char *sync);
long long	 store_sync_state(struct store *, const char *sync,
		    uint64_t *nonce);
int		 store_sync_bump(struct store *, const char *sync);
int		 store_bumped(struct store *);	/* in this transaction */
long long	 store_dir_active(struct store *, const char *sync);
int		 store_dir_scan(struct store *, const char *sync,
		    void (*)(void *, const char *key, size_t keylen,
		    uint64_t hash, int active), void *);
/* A stored user's email and fields (JSON), or NULL: the caller frees. */
char		*store_dir_email(struct store *, const char *sync,
		    const char *key);
char		*store_dir_fields(struct store *, const char *sync,
		    const char *key);
int		 store_dir_put(struct store *, const struct dirrow *);
int		 store_dir_remove(struct store *, const char *sync,
		    const char *key, int deactivate, long long run);
int		 store_dir_purge(struct store *, const char *sync, time_t,
		    void (*)(void *, const char *key, size_t), void *);
int		 store_dir_dump(struct store *, const char *sync, FILE *);
int		 store_team_scan(struct store *, const char *sync,
		    void (*)(void *, const char *, long long), void *);
int		 store_team_clear(struct store *, const char *sync);
int		 store_team_put(struct store *, const char *sync,
		    const char *name, long long members);
int		 store_team_recount(struct store *, const char *sync);
/* An email's page in dirpages: the length of its first DIRPAGE_CHARS
 * characters, as SQLite's substr() counts them. */
size_t		 dirpage_len(const char *email);
/* The counts of sync made again when they do not say active users. */
int		 store_counts_check(struct store *, const char *sync,
		    long long active);
/* Items of a run stored done as they were inserted (apply.c). */
int		 store_run_done_add(struct store *, long long run, long long n);

/* store_run.c: runs, the ledger, items and issues, decisions and the
 * hook's attempts, the run log, files seen and refused at a source, and
 * report uploads (publish.c). */
int		 store_run_insert(struct store *, struct run *);
int		 store_run_update(struct store *, const struct run *);
/* 0 found, 1 no such run, -1 error; the run's memory: run_free(). */
int		 store_run_get(struct store *, long long, struct run *);
/* What a run read from the store holds, freed; the run may be reused. */
void		 run_free(struct run *);
int		 store_run_reports_done(struct store *, long long);
/* Runs left In Progress marked Failed (interrupted): how many (their
 * ids into ids, "1, 4"), or -1. */
int		 store_runs_interrupted(struct store *, struct buf *ids);
/* These fill *ids (pairs: *pairs) with an array: the caller frees. */
size_t		 store_runs_reports_pending(struct store *, long long **ids);
long long	 store_run_applied_sha(struct store *, const char *sync,
		    const char *sha);
/* Per type, the run's items applied and failed (r->applied, r->failed). */
int		 store_run_outcome(struct store *, struct run *);
/* The sync's latest run (by id), or 0. */
long long	 store_run_latest(struct store *, const char *sync);
/* The source answered: its latest run, a source failure, is over. */
long long	 store_run_recovered(struct store *, const char *sync,
		    time_t, long long *failures);
/* Queued runs of a ledger entry another run took: Cancelled, reason. */
int		 store_runs_take_file(struct store *, long long file,
		    long long by, const char *reason);

/* One file in the ledger. */
struct ledger {
	long long	 id;
	char		*sync;
	char		*name;		/* as dropped at the source */
	long long	 size;
	long long	 mtime;
	char		 sha256[65];
	char		 state[16];	/* fetched, processed, duplicate */
	char		*local;		/* where the spool copy is now */
	long long	 run_id;
	int		 source_done;	/* the source file was moved/deleted */
};
int		 store_file_by_sha(struct store *, const char *sync,
		    const char *sha, long long *id, char *state, size_t,
		    long long *run);
long long	 store_file_seen(struct store *, const char *sync,
		    const char *name, long long size, long long mtime);
long long	 store_file_insert(struct store *, const struct ledger *);
int		 store_file_set(struct store *, long long id, const char *state,
		    const char *local, long long run);
int		 store_file_source_done(struct store *, long long id);
/* 0 found, 1 none; the entry's memory: ledger_free(). */
int		 store_file_get(struct store *, long long, struct ledger *);
void		 ledger_free(struct ledger *);
size_t		 store_files_in_state(struct store *, const char *state,
		    long long **ids);
int		 store_file_known_local(struct store *, const char *local);

/* One field change of an item. */
struct change {
	const char	*field;
	const char	*old;
	const char	*new;
};
/* An item as it is stored. */
struct itemrow {
	long long	 seq;
	enum itemtype	 type;
	enum itemstatus	 status;
	const char	*key;
	const char	*email;
	const char	*name;
	const char	*team;
	const char	*error;
	const struct change *chg;
	size_t		 nchg;
	const char	*payload;	/* JSON for the apply hook, or NULL */
};
/* An issue as it is stored. */
struct issuerow {
	long long	 seq;
	enum issuetype	 type;
	long long	 row;
	const char	*key;
	const char	*field;
	const char	*message;
	const char	*fix;
	const char	*email;		/* as the row had them, or NULL */
	const char	*name;
};
/* One (item, field) pair read back; field NULL for an item without. */
struct itemview {
	long long	 seq;
	int		 type;		/* enum itemtype */
	int		 status;	/* enum itemstatus */
	const char	*key, *email, *name, *team, *error;
	const char	*field, *old, *new;
};
struct issueview {
	long long	 seq;
	int		 type;		/* enum issuetype */
	long long	 row;
	const char	*key, *field, *message, *fix;
	const char	*email, *name;	/* "" when the row had none */
};
int		 store_item_add(struct store *, long long run,
		    const struct itemrow *);
int		 store_issue_add(struct store *, long long run,
		    const struct issuerow *);
int		 store_items_set_status(struct store *, long long run,
		    enum itemstatus);
int		 store_item_each(struct store *, long long run,
		    int (*)(void *, const struct itemview *), void *);
int		 store_issue_each(struct store *, long long run,
		    int (*)(void *, const struct issueview *), void *);
/* An item read back whole, for the hook, retry and confirm. */
struct itemfull {
	long long	 run, seq;
	int		 type;		/* enum itemtype */
	int		 status;	/* enum itemstatus */
	char		*key, *team, *payload, *error, *email, *name;
	long long	 resolved_by;	/* the run that applied it later */
};
int		 store_runs_supersede(struct store *, const char *sync,
		    long long by, const char *reason);
int		 store_run_clear_items(struct store *, long long run);
/* 0 found, 1 none; the item's memory: itemfull_free(). */
int		 store_item_get(struct store *, long long run, long long seq,
		    struct itemfull *);
void		 itemfull_free(struct itemfull *);
/* An item's payload fields (JSON), or NULL: the caller frees. */
char		*store_item_fields(struct store *, long long, long long);
int		 store_item_finish(struct store *, long long run, long long seq,
		    enum itemstatus, const char *error);
int		 store_item_resolve(struct store *, long long run,
		    long long seq, long long by);
size_t		 store_items_to_apply(struct store *, long long run,
		    long long only, int failed_too, long long **seqs);
int		 store_item_changes(struct store *, long long run,
		    long long seq, void (*)(void *, const char *field,
		    const char *new), void *);
long long	 store_item_later_done(struct store *, long long run,
		    long long seq);
int		 store_attempt_begin(struct store *, long long run,
		    long long seq, const char *payload);
int		 store_attempt_end(struct store *, long long run, long long seq,
		    int exit_status, const char *response, const char *error);
int		 store_attempt_each(struct store *, long long run, long long seq,
		    void (*)(void *, int n, time_t started, int exit_status,
		    const char *response, const char *error), void *);
size_t		 store_attempts_open(struct store *, long long **pairs);
int		 store_item_copy(struct store *, long long from, long long seq,
		    long long to, long long newseq);
long long	 store_run_for_file(struct store *, long long file, int *status);
size_t		 store_runs_with_pending(struct store *, long long **ids);
int		 store_runlog_put(struct store *, long long run, const char *);
/* A run's log text, or NULL: the caller frees. */
char		*store_runlog_get(struct store *, long long run);
int		 store_report_base_used(struct store *, const char *sync,
		    const char *base);
int		 store_observe(struct store *, const char *sync,
		    const char *name, long long size, long long mtime,
		    time_t now, time_t *first);
int		 store_observed_forget(struct store *, const char *sync,
		    const char *name);
int		 store_observed_prune(struct store *, const char *sync,
		    const struct srcfile *, size_t);
/* Files a source holds that are refused: new ones logged once (1), all
 * listed by status; forgotten once gone from the source. */
int		 store_refused_note(struct store *, const char *sync,
		    const char *name, const char *reason, time_t);
int		 store_refused_each(struct store *, const char *sync,
		    int (*)(void *, const char *name, const char *reason,
		    time_t since), void *);
int		 store_refused_prune(struct store *, const char *sync,
		    char *const *names, size_t);
long long	 store_publish_add(struct store *, long long run,
		    const char *sync, const char *path);
size_t		 store_publish_pending(struct store *, long long run,
		    long long **ids);
/* One upload; *sync and *path: the caller frees. */
int		 store_publish_get(struct store *, long long id, long long *run,
		    char **sync, char **path, long long *attempts);
int		 store_publish_set(struct store *, long long id,
		    const char *state, int failed_attempt, const char *error);

/* store_query.c: what the views (views.c) and the history (cli.c) read. */
/* Filters of the history view; since/until (time_t)-1 when unset. */
struct runfilter {
	const char	*sync;
	const char	*source;	/* its kind (sftp, dir) or a part, or NULL */
	time_t		 since;
	time_t		 until;
	char		 statuses[256];	/* ",slug,slug," or "" for all */
	int		 oldest;	/* oldest first */
	long long	 limit;
	long long	 offset;
};
long long	 store_run_count(struct store *, const struct runfilter *);
int		 store_run_list(struct store *, const struct runfilter *,
		    int (*)(void *, const struct run *), void *);
long long	 store_run_changed_fields(struct store *, long long run,
		    struct buf *most);
/* A sync as its runs tell it; run ids are 0 when there is none. */
struct syncrow {
	const char	*sync;
	long long	 in_progress;	/* runs in progress now */
	long long	 applied;	/* latest applied export run */
	long long	 last;		/* latest run of any kind */
	long long	 active;	/* active users in the directory */
	long long	 latest;	/* latest run not a dry run (by id) */
	long long	 users;		/* users in the directory, any state */
};
/* A key named by runs: the rows of the store_view_* fact queries. */
struct keyrow {
	const char	*sync;
	const char	*key;
	int		 type;		/* enum itemtype, or -1 for issues */
	long long	 run;
	const char	*email;		/* extras: from the latest item, or "" */
	const char	*name;
	time_t		 when;		/* extras: that run's finish (or start) */
	int		 gone;		/* extras: in the directory once */
};
/* A user as the directory has them; fields NULL from store_view_walk(). */
struct userrow {
	const char	*sync, *key, *email, *name, *manager, *team;
	const char	*fields;	/* JSON object, as the export had it */
	int		 active;
};
int		 store_view_syncs(struct store *,
		    int (*)(void *, const struct syncrow *), void *);
int		 store_view_failed(struct store *,
		    int (*)(void *, const struct keyrow *), void *);
int		 store_view_warnings(struct store *,
		    int (*)(void *, const struct keyrow *), void *);
int		 store_view_extras(struct store *,
		    int (*)(void *, const struct keyrow *), void *);
int		 store_view_walk(struct store *, const char *from,
		    size_t fromlen, long long skip,
		    int (*)(void *, const struct userrow *), void *);
int		 store_view_domain(struct store *, const char *lo,
		    size_t lolen, const char *hi, size_t hilen,
		    int (*)(void *, const struct userrow *), void *);
int		 store_view_pages(struct store *, int (*)(void *,
		    const char *prefix, size_t prefixlen, const char *sync,
		    long long n), void *);
int		 store_view_exported(struct store *, long long run);
int		 store_view_find(struct store *, const char *text,
		    const char *sync, int (*)(void *, const struct userrow *),
		    void *);
int		 store_view_user_items(struct store *, const char *sync,
		    const char *key, int (*)(void *, long long run,
		    const struct itemview *), void *);
int		 store_view_user_issues(struct store *, const char *sync,
		    const char *key, int (*)(void *, long long run,
		    const struct issueview *), void *);
long long	 store_view_changes_since(struct store *, time_t since);
/* A user's display name, or NULL: the caller frees. */
char		*store_view_name(struct store *, const char *sync,
		    const char *key);

/* -------------------------------------------- the work of one run (job) */

#define ENT_NONE	UINT32_MAX
#define DIRMGR_NONE	ENT_NONE	/* the stored manager is empty */
#define DIRMGR_UNKNOWN	(UINT32_MAX - 1) /* not known without a lookup */
/* Every key's bytes in the job, one buffer (job.c's key heap, u32 offsets). */
#define MAX_KEY_BYTES	((size_t)UINT32_MAX - 1)

/*
 * The keys of the directory and of the export, each an entry: entry i is
 * j->e[i] (what the load and the checks touch of it, in one cache line's
 * quarter), j->erec[i], j->dhash[i] ... (struct job), its key
 * ent_key(j, i). A million users take about 50 bytes each through a daily
 * run, and 20 more while the known lines are looked up (docs/design.md,
 * Memory).
 */
struct ent {
	uint32_t	 flags;		/* E_* */
	uint32_t	 row;		/* first export row, 0 if none */
	uint32_t	 mgr;		/* manager's entry (a lookup of the row's
					 * manager_id: the key table's, or a new
					 * one), or ENT_NONE */
	uint32_t	 team;		/* team in the export, or ENT_NONE */
};
#define E_DIR		0x0001	/* in the directory */
#define E_ACTIVE	0x0002	/* active there */
#define E_NEW		0x0004	/* in the export */
#define E_SKIP		0x0008	/* the row is not applied (an issue) */
#define E_DUP		0x0010	/* the key is on several rows */
#define E_TERM		0x0020	/* the export marks it terminated */
#define E_MGR_CLEAR	0x0040	/* manager not found: applied without */
#define E_MGR_KEEP	0x0080	/* manager loop: the manager is not changed */
#define E_DELETE	0x0100	/* a delete item */
#define E_CREATE	0x0200	/* a create item */
#define E_SEAT		0x0400	/* create refused by the seat limit */
#define E_VISIT		0x0800	/* scratch for graph walks */
#define E_DONE		0x1000	/* scratch for graph walks */
#define E_IMPACT	0x2000	/* has an item or an issue */
#define E_WRITE		0x4000	/* its row is written to the directory */
#define E_GONE		0x8000	/* removed from the directory by this run */
#define E_DEACT		0x10000	/* deactivated by this run */
#define E_SAMEMAIL	0x20000	/* compared: the stored email stays */
#define E_LINE		0x40000	/* its row, one whole clean line, hashed */
#define E_KEPT		0x80000	/* not in the export, yet not deleted */
#define E_KNOWN		0x100000 /* its row was a known line (struct known) */
#define E_MAIL		0x200000 /* its row has an email (j->eeh) */
#define E_ORDER		0x400000 /* its row is in j->order */

/*
 * The key table (job.c): open addressing on strmap_keyhash(), at most
 * 5/8 full, 4 bytes a slot: the entry + 1 in the low bits, the hash's
 * top bits above them, so that a probe reads a key only when those match.
 */
struct keytab {
	uint32_t	*slot;		/* tag | entry + 1; 0: empty */
	size_t		 cap;		/* slots */
	size_t		 n;		/* keys */
	unsigned	 idbits;	/* bits of the entry + 1 */
};

/*
 * Known lines: the key snapshot's companion file (snapshot.c) keeps, for
 * each stored user whose stored fields are exactly what one CSV line of
 * an export gave, two hashes of that line (seeded per directory and by
 * the load's context: the header's mapping and the sync's row rules),
 * the email's hash and the team. A line of the next export equal to it
 * is that user, unchanged: no parsing, validation nor key lookup.
 */
struct lineinfo {
	uint64_t	 h1;		/* the line's hashes */
	uint64_t	 h2;
	uint64_t	 eh;		/* email_hash() of the email: low 32 bits */
	uint32_t	 team;		/* index in the file's teams, or UINT32_MAX */
	uint32_t	 flags;		/* LI_* */
};
#define LI_LINE		0x1	/* the entry has a known line */
#define LI_EMAIL	0x2	/* its email is not empty */
#define LI_KEYED	0x4	/* its key counts as one (load.c's keyed) */
/* struct known's info[]: the file's team of an entry, and its LI_*. */
#define KI_SHIFT	29
#define KI_TEAM		((1U << KI_SHIFT) - 1)	/* KI_TEAM itself: none */

/*
 * The lines file of the key snapshot's version, read while loading into a
 * table like the key table's (on the line's first hash, the entry's
 * second beside), then let go; the file stays open for the next one,
 * which takes the known lines' records from it (snapshot.c).
 */
struct known {
	uint64_t	 lseed;		/* lines are hashed with lseed ^ ctx */
	uint64_t	 eseed;		/* email_hash()'s seed */
	uint64_t	 ctx;		/* the context of the file's lines */
	uint64_t	 now;		/* this load's (load.c), 0 before */
	size_t		 n;		/* entries; 0: no lines known */
	uint32_t	*slot;		/* tag of h1 | entry + 1; 0: empty */
	size_t		 cap;		/* slots */
	unsigned	 idbits;
	uint64_t	*h2;		/* per entry: its line's second hash */
	uint32_t	*info;		/* per entry: LI_* << KI_SHIFT | team */
	const char	**tname;	/* the file's teams (copied) */
	size_t		*tlen;
	uint32_t	*tmap;		/* each one's team in the job, or NONE */
	size_t		 nteam;
	char		*tnames;
	int		 fd;		/* the file while ok (its records go
					 * into the next one) */
	int		 ok;
};
/* A row hashed this load and not known, kept for the next lines file
 * (snapshot.c), in row order. */
struct lineout {
	uint64_t	 lh[2];		/* its line's hashes */
	uint32_t	 eh;		/* its email's hash, low bits */
	uint32_t	 ent;		/* its entry | LINE_MAIL */
};
#define LINE_MAIL	0x80000000U	/* the row has an email */

/* The email of a row equal to its stored user: the directory's, not
 * copied (a million rows, 28 MB); validate.c reads the few it compares. */
extern const char email_stored[];

/* A row kept whole because it is new or changed. */
struct kept {
	uint32_t	 ent;
	uint32_t	*end;		/* one piece of the kept rows' file (its
					 * mapping): per slot, where its value
					 * ends (past its NUL) in the text
					 * after these (kept_v()) */
	uint64_t	 hash;		/* fingerprint of the values (as stored) */
};
/*
 * The kept rows' values (job.c): appended to a file with no name in the
 * sync's cache folder and read through one read-only mapping of it, so
 * that a first load's million rows are in the page cache, which can write
 * them out and drop them, instead of the process. The passes over them
 * let the pages they read go as their reads span KEPT_WINDOW bytes
 * (kept_release()): a read maps a whole folio of the page cache, up to
 * 2 MB, however little it reads. An export out of key order keeps its
 * rows in the job's arena instead (KEPT_DISORDER_MAX).
 */
struct keptfile {
	int		 fd;		/* the file, while map is not NULL */
	char		*map;		/* cap bytes of it, read-only */
	size_t		 cap;		/* KEPT_MAP_MAX, or less when the address
					 * space is short (valgrind) */
	size_t		 len;		/* bytes in the file and in buf */
	size_t		 written;	/* bytes in the file */
	char		*buf;		/* the rest, not written yet */
	size_t		 bufcap;
	int		 loaded;	/* after the load: each one written at once */
	uint32_t	 last;		/* the entry of the row kept last */
	size_t		 disorder;	/* rows kept before one of a lower key */
	int		 inmem;		/* from now on, rows go to the job's arena */
	char		*dir;		/* the folder of the file */
	char		*err;		/* why the file failed (a full disk): it
					 * is not used again; or NULL */
};
#define KEPT_MAP_MAX	(1ULL << 40)	/* the kept rows' file, at most */
#define KEPT_MAP_MIN	(1ULL << 30)	/* its mapping, at least */
/* Rows out of key order in the file, at most: the passes in key order
 * would read it at random (a fault of several microseconds a row), so the
 * rows after these go to the arena. */
#define KEPT_DISORDER_MAX 1024
#define KEPT_BUF_BYTES	(1024 * 1024)	/* written to it this many at a time */
#define KEPT_WINDOW	(8 * 1024 * 1024) /* a pass's reads between releases
					 * span this many bytes, at most */
/* Where a pass over kept records read since it last let pages go. */
struct keptpass {
	const char	*lo, *hi;
};

/* A row's email hash, while loading (a known line's is the file's). */
struct rowhash {
	uint32_t	 ent;
	uint32_t	 eh;		/* email_hash(), low bits */
};
/* A terminated row's email (its row is not kept). */
struct rowmail {
	uint32_t	 ent;
	const char	*email;		/* lower-cased (arena) */
};

/* An item of the run before it is stored (48 bytes: a first load holds
 * one a row). */
struct item {
	uint8_t		 type;		/* enum itemtype */
	uint8_t		 status;	/* enum itemstatus */
	uint32_t	 ent;		/* ENT_NONE for team items */
	uint32_t	 chg;		/* first change in job.chg (at most
					 * MAX_ROWS * MAX_SLOTS) */
	uint32_t	 nchg;
	const char	*team;		/* team items and team_member */
	const char	*email;		/* of the user, for reports */
	const char	*name;		/* display name, for reports */
	const char	*error;		/* why it failed or is held */
};

struct job {
	struct config	*cfg;
	const struct sync *sy;
	struct store	*st;
	struct run	*run;
	struct schema	 sc;
	struct loadstat	 ls;
	struct arena	 a;		/* emails, values, messages */
	/* The entries (job.c grows these arrays together). */
	size_t		 ne, ecap;
	struct ent	*e;
	uint32_t	*erec;		/* kept record, or ENT_NONE */
	uint32_t	*eeh;		/* E_MAIL: email_hash() of its row's
					 * email, low bits (made after the
					 * load, for the checks) */
	uint64_t	*dhash;		/* fingerprint the directory holds */
	uint32_t	*koff;		/* key i at kheap + koff[i]; koff[ne]:
					 * the end */
	char		*kheap;		/* the keys, each NUL-terminated */
	size_t		 kheapcap;
	struct keytab	 kt;		/* key -> entry */
	uint32_t	*order;		/* the export's entries in row order
					 * (E_ORDER; made after the load) */
	size_t		 norder;
	struct rowhash	*rh;		/* the rows' email hashes, not known */
	size_t		 nrh, rhcap;
	struct lineout	*lines;		/* rows not known, for the next file */
	size_t		 nlines, linecap;
	struct rowmail	*tmail;		/* terminated rows' emails */
	size_t		 ntmail, tmailcap;
	struct known	 kn;		/* its known lines (snapshot.c) */
	const uint32_t	*dirmgr;	/* per snapshot entry: its stored manager */
	size_t		 ndirmgr;	/* (entries 0..n-1 are the snapshot's) */
	int		 snapfd;	/* the key snapshot read, or -1 */
	int		 scanned;	/* the keys came from the users table */
	uint32_t	 next;		/* the entry after the last row's */
	int		 in_order;	/* and it was the row's (diff.c) */
	struct kept	*kept;
	size_t		 nkept, keptcap;
	struct keptfile	 kf;		/* where their values are */
	struct issuerow	*iss;
	size_t		 niss, isscap;
	struct item	*it;
	size_t		 nit, itcap;
	struct change	*chg;
	size_t		 nchg, chgcap;
	const char	**team;		/* team names (arena) */
	long long	*team_new;	/* members per team in the export */
	long long	*team_old;	/* members per team in the directory */
	long long	*team_held;	/* members whose deletion may be held */
	size_t		 nteam, teamcap;
	struct strmap	 teams;		/* name -> team index */
	uint64_t	 slot_seed[MAX_SLOTS]; /* per slot name, for fingerprints */
	struct buf	 fkeys;		/* each slot's "name": (fields_json()) */
	uint32_t	 fkoff[MAX_SLOTS + 1]; /* where each one starts */
	int		 seeded;	/* slot_seed is filled */
	long long	 active_before;
	long long	 allow_deletes;	/* one-time overrides, -1 none */
	long long	 allow_updates;
	long long	 allow_id_changes;
	int		 apply;		/* 1: write the directory */
	int		 hold_deletes;	/* the guard holds only deletions */
};

/* Entry i's key and its length (job.c's heap). */
static inline const char *
ent_key(const struct job *j, uint32_t i)
{
	return j->kheap + j->koff[i];
}

static inline uint32_t
ent_keylen(const struct job *j, uint32_t i)
{
	return j->koff[i + 1] - j->koff[i] - 1;
}

/* A kept record's value of slot i (NUL-terminated) and its length. */
static inline const char *
kept_v(const struct job *j, const struct kept *k, size_t i)
{
	return (const char *)(k->end + j->sc.nslots) + (i ? k->end[i - 1] : 0);
}

static inline uint32_t
kept_len(const struct kept *k, size_t i)
{
	return k->end[i] - (i ? k->end[i - 1] : 0) - 1;
}

/*
 * snapshot.c: the directory's keys, fingerprints and active flags as of
 * one version, in spool/cache/SYNC/directory.keys, so that a run reads
 * one file instead of scanning a million users. snap_load() fills the
 * key table when the file carries the directory's current version and
 * nonce (0), else returns -1 and the caller scans. snap_save() writes
 * the directory the job leaves behind (at the end of write_directory(),
 * inside its transaction), or as loaded when the job scanned and applies
 * nothing.
 */
int	 snap_load(struct job *);
void	 snap_save(struct job *, int after_write);
/* snap_load() reads the known lines after the keys; known_load() sets
 * this run's seeds (the file's, or new random ones); known_free() once
 * the load is over. */
void	 known_load(struct job *);
void	 known_free(struct known *);
/* The lines file the load read, closed (job_free()). */
void	 known_close(struct known *);
/* Its known lines' email hashes into j->eeh (E_KNOWN | E_MAIL). */
void	 known_mail(struct job *);
/* cache drop [--sync S]: the command (EXIT_*). */
int	 cmd_cache(struct config *, int, char **);

/* job.c: the key table, the teams, and how a user's row reads. */
uint32_t ent_get(const struct job *, const char *, size_t);
/* The same with strmap_keyhash() of the key made before. */
uint32_t ent_get_h(const struct job *, const char *, size_t, uint64_t);
/* Hints for a loop over keys: the slot of a key further on into cache;
 * the entry a nearer one probably is (ENT_NONE: not there). */
void	 ent_prefetch_h(const struct job *, uint64_t);
uint32_t ent_peek_h(const struct job *, uint64_t);
/* A new entry of a key not there yet, nowhere yet. */
uint32_t ent_add(struct job *, const char *, size_t);
/* Room for n more entries and keybytes more bytes of keys. */
void	 ent_reserve(struct job *, size_t n, size_t keybytes);
/* Entries 0..n-1 whose keys the caller put in kheap and koff (the key
 * snapshot): each nowhere yet; then the key table, built from them. */
void	 ent_take(struct job *, size_t n);
void	 keytab_fill(struct job *);
void	 ids_by_key(const struct job *, uint32_t *ids, size_t);
uint32_t team_intern(struct job *, const char *, size_t);
/* Entry i's kept record, or NULL. */
struct kept *ent_kept(const struct job *, uint32_t);
/* A kept record's values into v and len (MAX_SLOTS each; len may be
 * NULL); a record's values into one piece of the job's arena (k->end). */
void	 kept_values(const struct job *, const struct kept *, const char **v,
	    size_t *len);
/* 0, or -1 while loading when the file failed (j->kf.err says why). */
int	 kept_set(struct job *, struct kept *, const char *const *v,
	    const size_t *len);
/* Every kept record written to the file, and each one from now on at
 * once (after the load, before any is read); j->kf.err says if they
 * could not be. */
void	 kept_loaded(struct job *);
/* The file let go (its room given back; no record of it read again);
 * closed, with what it holds. Both safe with a file never opened. */
void	 kept_unmap(struct keptfile *);
/* Every kept record written so far readable now (a rare read during the
 * load: a duplicate id's first row); 0, or -1 (j->kf.err). */
int	 kept_flush(struct job *);
void	 kept_close(struct keptfile *);
/* A pass over kept records (any thread, p zeroed at its start) reads at
 * `at` (anywhere: only the file's count): once its reads span KEPT_WINDOW
 * bytes, the mapping's pages are let go (read again at need). */
void	 kept_release(const struct job *, struct keptpass *p, const void *at);
/* A user's fields as the users table keeps them, into b. */
void	 fields_json(struct job *, const struct kept *, struct buf *b);
/* The display name of a row's values: in the job's arena, or v's own. */
const char *display_name(struct job *, const char *const *v);

/* diff.c: the export against the directory: the items. */
uint64_t rec_hash(const struct job *, const char *const *v,
	    const size_t *len);
void	 job_free(struct job *);
int	 diff_load_dir(struct job *);
int	 diff_on_record(void *job, const struct record *);
/* After the load (and known_free()): the rows in row order and their
 * email hashes, for validate_cross(). */
void	 diff_loaded(struct job *);
int	 diff_items(struct job *);
/* Ids that match the directory's only without leading zeros (a
 * spreadsheet typed the id column as numbers): -1 with err, the file
 * fails whole; else 0. Before diff_items(). */
int	 diff_ids_retyped(struct job *, char *err, size_t errlen);

/* validate.c: issues. */
void	 issue_add(struct job *, enum issuetype, long long row,
	    const char *key, const char *field, const char *fix,
	    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
int	 validate_row(struct job *, const struct record *);
/* Issues n..last are about a row with values v: its email and name. */
void	 issues_who(struct job *, size_t n, size_t last,
	    const char *const *v);
void	 validate_cross(struct job *);
void	 validate_seats(struct job *);
/* After both: the cross-row issues get their row's email and name. */
void	 validate_identify(struct job *);
/* The diff: a changed row of stored user id (values v, len) whose values
 * are the stored ones (ov, olen) with characters turned into "?" (a save
 * in an encoding that lacks them): 1, with the issue; the row is not to
 * be applied. */
int	 validate_qmarks(struct job *, uint32_t id, const char *const *v,
	    const size_t *len, const char *const *ov, const uint32_t *olen);

/* guard.c: the deactivation threshold; sets run->tripped and job->apply. */
enum runstatus guard_check(struct job *, int dry_run);

/* ---------------------------------------------------- run.c, report.c */

/* What `run` was asked to do. */
struct runopts {
	const char	*sync;		/* only this sync, or NULL */
	const char	*file;		/* run this local file (--file) */
	int		 dry_run;
	long long	 allow_deletes;	/* one-time overrides, -1: none */
	long long	 allow_updates;
	long long	 allow_id_changes;
	const char	*reason;	/* why an override is given (--reason) */
	const char	*trigger;	/* "timer" under systemd, else "manual" */
	int		 fetch_only;	/* `fetch`: no processing */
};

/*
 * The one-time overrides of the guard (`run --file F --allow-deletes N
 * --reason TEXT`), a table in guard.c: each needs --file and --reason, and
 * the run records it (decision override) with who gave it, when and why.
 * Another one is a long long in runopts and in run (-1: not given) and
 * one line of the table. The table ends with a NULL flag.
 */
#define MAX_OVERRIDES	8
struct override {
	const char	*flag;		/* the option without "--" */
	size_t		 opt;		/* offsetof(struct runopts, its value) */
	size_t		 run;		/* offsetof(struct run, its value) */
};
extern const struct override overrides[];
/* Its value in a runopts or a run: -1 when not given. */
long long *override_opt(const struct override *, struct runopts *);
long long override_run(const struct override *, const struct run *);
/* "--allow-deletes 12 --allow-updates 3" of a run into b; 0 if none. */
int	 override_describe(const struct run *, struct buf *b);
int	 run_main(struct config *, const struct runopts *);	/* EXIT_* */

/* cli.c: the read-only views; argv[0] is the command. EXIT_* */
int	 cmd_history(struct config *, int, char **);
int	 cmd_show(struct config *, int, char **);
int	 cmd_items(struct config *, int, char **);
int	 cmd_report(struct config *, int, char **);
/* A --since/--until date; a bare date given to --until includes that day. */
int	 parse_when(const char *, time_t *out, int until);
/* What the views (cli.c, views.c) share: the database opened read-only
 * (NULL logged; store_close() it), or that there is none yet; --page and
 * --per-page (getopt_long()'s 'p' and 'n'), and the end of a page of
 * results (JSON members into out, then out printed; or a line). */
#define PAGE_DEFAULT		10	/* results on a page */
#define PAGE_MAX		1000	/* --per-page at most */
struct store *view_open(struct config *);
int	 no_database(const struct config *);
int	 page_option(int c, const char *arg, long long *page, long long *limit);
void	 page_footer(int json, struct buf *out, long long total,
	    long long offset, long long limit, long long page);

/* Which report files a run gets (report.c). */
enum rfmt { RF_CSV, RF_XLSX, RF_LOG, RF__COUNT };
/* "Sync Logs - 15 Jan 2024 10.30pm" for a start time, local time zone. */
void	 report_basename(time_t, char *out, size_t outlen);
/* The same, unused by the sync's runs and files (" (2)"...); to free. */
char	*report_base_new(const struct config *, struct store *,
	    const char *sync, time_t);
/* Write every file due for the run under reports/SYNC/; -1 on failure.
 * early: its reports begun by report_early(), or NULL. */
int	 report_write_all(struct config *, struct store *, long long run,
	    struct early *);
/* Where a report's items and issues come from: the store, or memory. */
struct reportsrc {
	int	 (*items)(void *, int (*)(void *, const struct itemview *),
		    void *);
	int	 (*issues)(void *, int (*)(void *, const struct issueview *),
		    void *);
	const char *(*why)(void *);	/* the cause of a -1 */
	void	*arg;
};
struct storesrc {
	struct store	*st;
	long long	 run;
};
/* The store's rows of run as a report's source (ss holds them). */
void	 report_store_src(struct store *, long long run, struct storesrc *ss,
	    struct reportsrc *);
/* The CSV and XLSX rows of run r, whose outcome will be status, written
 * from src on a thread beside the transaction; NULL when not due. */
struct early *report_early(struct config *, const struct run *r,
	    enum runstatus, const struct reportsrc *src);
void	 report_early_rows(struct early *);	/* src may go now */
void	 report_early_drop(struct early *);	/* its run was not stored */
/* One report to path ("-": standard output), from the database. */
int	 report_write_one(struct store *, const struct run *, enum rfmt,
	    const char *path);
int	 report_due(enum runstatus, enum rfmt);
int	 report_available(const struct run *, enum rfmt);
const char *report_kind(enum runstatus);  /* "Result report", ... */
/* The summary as label/value pairs, for every format and `show`. */
void	 report_summary(const struct run *,
	    void (*)(void *, const char *label, const char *value), void *);
void	 time_local(time_t, char *out, size_t outlen);
/* The writers: each formats one file and returns -1 on failure. */
int	 report_csv(struct store *, const struct run *, FILE *);
void	 report_csv_head(const struct run *, FILE *);
int	 report_csv_rows(const struct reportsrc *, FILE *);
int	 report_xlsx(struct store *, const struct run *, const char *path);
#define XLSX_SUMMARY_TMP ".summary.tmp"	/* its summary made apart */
/* The XLSX report begun from src before its run is stored (its summary
 * will have summary_rows rows); finished with the run as stored, or
 * dropped (NULL): 0 when written, else -1 and path removed. */
struct xlsx_early *report_xlsx_begin(const char *path,
	    const struct reportsrc *src, long long summary_rows);
void	 report_xlsx_zip(struct xlsx_early *, const char *path);
int	 report_xlsx_finish(struct xlsx_early *, const char *path,
	    const struct run *r);
int	 report_log(struct store *, const struct run *, FILE *);
/* Would a spreadsheet take this value for a formula? */
int	 cell_is_formula(const char *);

/* hook.c: the apply hook, and the directory following one item. */
int	 hook_apply_item(struct store *, const struct sync *, long long run,
	    long long seq);
int	 hook_apply_run(struct store *, const struct sync *, long long run);
int	 hook_dir_apply(struct store *, const struct sync *,
	    const struct itemfull *, long long run);
void	 hook_recover(struct store *);
/* Start argv with the item's environment env; fd[] gets the pipes to its
 * stdin, stdout and stderr (ours, close-on-exec). Its own process group. */
pid_t	 hook_spawn(const struct hook *, char *const env[], int fd[3]);
/* Has it exited (not reaped yet)? Then hook_drain() reads what the pipe
 * *fd already holds into got without waiting (HOOK_DRAIN_MAX bytes at
 * most) and closes it: 1 when a process the hook left still holds the
 * pipe's other end. hook_left_behind() says so in the log, once a run. */
int	 hook_exited(pid_t);
int	 hook_drain(int *fd, struct buf *got);
void	 hook_left_behind(const struct hook *, long long run);
/* hook_stream.c: items seqs[0..n-1] of run through one program per run;
 * done[i] set to 1 applied, 0 failed, -1 not sent. Returns the number
 * that failed, or -1 on a database error. */
int	 hook_stream(struct store *, const struct sync *, long long run,
	    const long long *seqs, size_t n, int *done);

/* decide.c: approve, reject, cancel, retry, confirm. EXIT_* */
int	 cmd_approve(struct config *, int, char **);
int	 cmd_reject(struct config *, int, char **);
int	 cmd_cancel(struct config *, int, char **);
int	 cmd_retry(struct config *, int, char **);
int	 cmd_confirm(struct config *, int, char **);
/* run.c: a held run applied after approval; EXIT_* */
int	 run_approve(struct config *, struct store *, long long run,
	    const char *who, const char *reason);

/* apply.c: the run's outcome, inside the caller's transaction. */
int	 apply_run(struct job *, enum runstatus);
/* The job's items and issues as a report's source (before the commit). */
void	 job_report_src(struct job *, struct reportsrc *);
int	 apply_bulk(const struct job *);	/* a first load into nothing */

/* ---------------------------------------------------- rostersync-ldap.c */

/* The LDAP connector (its own program; see rostersync-ldap(8)). */
#define LDAPC_MAPS		64	/* fields with a --map */
#define LDAPC_MAP_ATTRS		5	/* attributes of one field, and a NULL */
#define LDAPC_ATTRS		128	/* attributes in one operation */
#define LDAPC_VALUES		8	/* values of one attribute we set */
#define LDAPC_BATCH		256	/* member changes in one modify of a group */
#define LDAPC_GROUP_OPS		1	/* groups with an operation in flight */
#define LDAPC_SECRET_MAX	4096	/* bytes of the password file read */
#define LDAPC_LINE_MAX		(16 * 1024 * 1024) /* one item's line */

/* ---------------------------------------------------------- calendar.c */

/*
 * The next elapse after `after` of an OnCalendar= expression (the subset a
 * timer uses: *:0/15, hourly, daily, weekly, Mon..Fri 09:00, 8,12,16:00,
 * *-*-* 06:00:00 ...), in local time (TZ) unless it ends in UTC. 0, or -1
 * for an expression not understood or never elapsing: calendar_next()
 * logs why, calendar_next_err() puts it in err.
 */
int	 calendar_next(const char *expr, time_t after, time_t *next);
int	 calendar_next_err(const char *expr, time_t after, time_t *next,
	    char *err, size_t errlen);
/*
 * The next scheduled sync: rostersync.timer's next elapse when systemd
 * answers, else computed from cfg->schedule in the system's time zone.
 * *how says which ("from systemd", "computed from schedule *:0/15") or,
 * on -1, why there is none; it points to static storage. next_sync()
 * writes the time as "2024-01-15 10:45:00 GMT" (TZ), or "unknown" on -1.
 */
int	 next_sync_time(const struct config *, time_t *next, const char **how);
int	 next_sync(const struct config *, char *out, size_t outlen,
	    const char **how);

/* ------------------------------------------------------------- roles.c */

#define RS_USER			"rostersync"	/* the service's user */
#define RS_GROUP_ADMINS		"rostersync-admins"	/* every command */
#define RS_GROUP_AUDITORS	"rostersync-auditors"	/* read-only ones */
/*
 * Whether the calling user may run command (before the configuration is
 * read): 0, or -1 with a message naming the groups in why. cfg may be NULL.
 */
int	 role_check(const char *command, const struct config *cfg, char *why,
	    size_t whylen);
/* Who decides: the user behind sudo, else the calling one (static). */
const char *whoami(void);

/* views.c: per-user status and the metrics. EXIT_* */
int	 cmd_users(struct config *, int, char **);
int	 cmd_user(struct config *, int, char **);
int	 cmd_status(struct config *, int, char **);

#endif /* ROSTERSYNC_H */
