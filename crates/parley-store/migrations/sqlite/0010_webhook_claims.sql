-- A delivery is claimed by the node that sends it until `claimed_until`
-- (milliseconds since the epoch; 0: unclaimed), so nodes sharing one store
-- send each delivery once. A node that dies mid-send leaves its claim to
-- expire, and another node sends the delivery then.
ALTER TABLE webhook_deliveries ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
