"""Write the small exports that are not plain UTF-8 text: the Tmall report in GBK.

Run from this folder: ``python make_binary.py``. The rows are typed here by
hand (not by the sample generator) so the test data disagrees with it: a
re-export's alias headers (订单号, 买家昵称, 实付金额, 创建时间), ``="…"`` order
numbers, a masked Alipay e-mail, slashed times and an unpaid order.
"""

from pathlib import Path

HEADER = "订单号,买家昵称,支付宝账号,实付金额,订单状态,收货人,收货地址,联系手机,创建时间,付款时间,商品标题,宝贝总数量,退款金额"
ROWS = [
    '="4012000000000001",tb_小梅88,139****0001,129.00,交易成功,周晓梅,浙江省 杭州市 西湖区 文三路90号,139****0001,2025-05-01 10:00:00,2025-05-01 10:01:00,保湿面霜,1,0',
    '="4012000000000002",tb_小梅88,139****0001,59.00,卖家已发货,周晓梅,浙江省 杭州市 西湖区 文三路90号,139****0001,2025/05/09 20:00,2025/05/09 20:01,洁面乳,1,0',
    '="4012000000000003",芳芳_sh,f***@163.com,99.00,交易关闭,王芳,上海市 上海市 徐汇区 漕溪北路1号,137****2222,2025-05-02 11:00:00,2025-05-02 11:01:00,口红,1,99.00',
    '="4012000000000004",李娜na,186****3333,89.90,等待买家付款,李娜,广东省 深圳市 南山区 科技园1栋,186****3333,2025-05-03 12:00:00,,面膜,1,0',
    '="4012000000000005",dragon_liu,136****0001,258.00,交易成功,刘强,江苏省 南京市 鼓楼区 中山路8号,136****0001,2025-05-04 13:00:00,2025-05-04 13:02:00,面霜礼盒,2,0',
]

if __name__ == "__main__":
    out = Path(__file__).parent / "tmall_orders" / "ExportOrderList202505.csv"
    out.write_bytes(("\n".join([HEADER, *ROWS]) + "\n").encode("gbk"))
