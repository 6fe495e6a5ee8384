/* sqs: the few Amazon SQS actions docmill needs, over the AWS JSON 1.0
 * protocol (POST, X-Amz-Target: AmazonSQS.<Action>), signed with SigV4 by
 * libcurl. Requests go to AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL when set;
 * the QueueUrl in the body is always the queue's own URL. A client is used
 * by one thread at a time. */
#ifndef DOCMILL_AWS_SQS_H
#define DOCMILL_AWS_SQS_H

#include "base/common.h"

typedef struct sqs_client sqs_client;

typedef struct sqs_message {
    char *message_id;
    char *receipt;
    char *body;
    int receive_count;   /* ApproximateReceiveCount */
    int64_t sent_ms;     /* SentTimestamp; 0 when absent */
} sqs_message;

sqs_client *sqs_client_new(const char *queue_url, dm_err *err);
void sqs_client_free(sqs_client *c);
const char *sqs_client_queue_url(const sqs_client *c);

int sqs_receive(sqs_client *c, int max, int wait_seconds, int visibility_seconds,
                sqs_message **msgs, int *n, dm_err *err);
void sqs_messages_free(sqs_message *msgs, int n);
int sqs_delete(sqs_client *c, const char *receipt, dm_err *err);
/* Up to 10 receipts in one request. Returns how many failed (each logged;
 * those messages come back after their visibility timeout), or -1. */
int sqs_delete_batch(sqs_client *c, char *const *receipts, int n, dm_err *err);
int sqs_change_visibility(sqs_client *c, const char *receipt, int seconds, dm_err *err);
int sqs_send(sqs_client *c, const char *body, dm_err *err);
/* ApproximateNumberOfMessages (+Delayed) and ...NotVisible. */
int sqs_counts(sqs_client *c, int64_t *visible, int64_t *in_flight, dm_err *err);
/* True for URLs that look like SQS queue URLs (https://sqs.…/ACCOUNT/NAME,
 * or any http(s) URL when an SQS endpoint override is set). */
bool sqs_is_queue_url(const char *url);

#endif
